"""A player who opens the board with a token sees their own rank and row; the rank is asked
for at most once a second; without a token nothing about a player is shown or asked for."""

import re

from playwright.sync_api import expect

from ...harness.players import token_for
from .conftest import DESKTOP
from .helpers import (
    RECORD_RANK_FETCHES,
    choose,
    expect_ids,
    expect_state,
    me_line,
    plays,
    radio,
    rank_fetches,
    row,
)

COUNT_RANK_FETCHES = ("window.__rankFetches.filter(f => f[1].includes('/scores/users/'))"
                      ".length")


def test_a_player_sees_their_rank_and_their_row_stands_out(regional, open_page):
    server, _, tokens = regional
    page, problems = open_page(server.url + "/#token=" + tokens["hans"], **DESKTOP)
    expect_state(page, "live")
    expect(me_line(page)).to_have_text("You: Hans Müller — rank 3, score 2")
    expect_ids(page, ["amelie", "greta", "hans", "pierre"])
    expect(row(page, "hans")).to_have_class(re.compile(r"\bmine\b"))
    expect(row(page, "hans").locator(".you-tag")).to_be_visible()
    expect(page.locator("#board-rows tr.mine")).to_have_count(1)
    expect(radio(page, "Global")).to_be_checked()
    assert problems == [], problems


def test_the_rank_follows_the_board_but_is_asked_for_at_most_once_a_second(
    regional, open_page
):
    server, _, tokens = regional
    page, problems = open_page(server.url + "/?view=region#token=" + tokens["hans"],
                               init_scripts=[RECORD_RANK_FETCHES])
    expect_state(page, "live")
    expect_ids(page, ["greta", "hans"])
    expect(me_line(page)).to_have_text("You: Hans Müller — rank 2, score 2")

    # Two new snapshots right after each request for the rank: the next request waits.
    for _ in range(3):
        asked = page.evaluate(COUNT_RANK_FETCHES)
        plays(server, tokens["greta"], "greta")
        plays(server, tokens["hans"], "hans")
        page.wait_for_function(f"n => {COUNT_RANK_FETCHES} > n", arg=asked)
    expect(me_line(page)).to_have_text("You: Hans Müller — rank 2, score 5")

    fetches = rank_fetches(page)
    assert fetches[-1][1].endswith("/api/scores/users/hans?region=DE"), fetches
    gaps = [later[0] - earlier[0] for earlier, later in zip(fetches, fetches[1:])]
    assert len(fetches) >= 4 and min(gaps) >= 990, fetches
    assert problems == [], problems


def test_without_a_token_no_player_is_shown_nor_asked_about(one_day, open_page):
    def scenario(server, app):
        alice, bob = token_for(app, "alice"), token_for(app, "bob")
        plays(server, alice, "alice", 2)
        plays(server, bob, "bob")
        page, problems = open_page(server.url + "/", init_scripts=[RECORD_RANK_FETCHES])
        expect_state(page, "live")
        expect_ids(page, ["alice", "bob"])
        expect(page.locator("#me")).to_be_hidden()
        expect(radio(page, "My region")).to_be_disabled()

        # Not on a new snapshot, nor on another view either (today's: one_day, conftest.py).
        plays(server, bob, "bob", 2)
        expect_ids(page, ["bob", "alice"])
        choose(page, "Today")
        expect(page.get_by_role("table", name="Top 10 players today")).to_be_visible()
        expect_ids(page, ["bob", "alice"])
        expect(page.locator("#me")).to_be_hidden()
        expect(page.locator("#board-rows tr.mine")).to_have_count(0)
        assert page.evaluate("window.__rankFetches") == []
        assert problems == [], problems

    one_day(scenario)
