"""'This week' and 'Today': each streams its own board, live; a reload keeps the view; the
arrow keys move between the views, past an unavailable one, and wrap around. A test that
reads a day's or a week's board runs in one_day (conftest.py): the server's clock is the
machine's."""

import pytest
from playwright.sync_api import expect

from ...harness.players import token_for
from .conftest import STREAM
from .helpers import (
    RECORD_STREAMS,
    board_version,
    choose,
    expect_ids,
    expect_open_streams,
    expect_score,
    expect_state,
    expect_version,
    plays,
    radio,
    top_ids,
)


def alice_and_bob(server, app):
    """Alice 2, Bob 1 (everything so far happened this week, and today); their tokens."""
    alice, bob = token_for(app, "alice"), token_for(app, "bob")
    plays(server, alice, "alice", 2)
    plays(server, bob, "bob")
    return alice, bob


@pytest.mark.parametrize("label, period, table", [("This week", "week", "this week"),
                                                   ("Today", "day", "today")])
def test_a_period_shows_its_board_from_its_own_stream(one_day, open_page, label, period, table):
    def scenario(server, app):
        _, bob = alice_and_bob(server, app)
        page, problems = open_page(server.url + "/", init_scripts=[RECORD_STREAMS])
        expect_state(page, "live")
        expect_ids(page, ["alice", "bob"])

        with page.expect_request(f"**/api/scores/stream?period={period}"):
            choose(page, label)
        expect(radio(page, label)).to_be_checked()
        assert page.url == server.url + f"/?view={period}"
        expect(page.get_by_role("table", name=f"Top 10 players {table}")).to_be_visible()
        expect_ids(page, ["alice", "bob"])
        expect_open_streams(page, [f"?period={period}"])
        expect_version(page, board_version(server, f"?period={period}"))

        plays(server, bob, "bob", 2)
        expect_score(page, "bob", 3)
        expect_ids(page, ["bob", "alice"])
        expect_version(page, board_version(server, f"?period={period}"))
        assert top_ids(server, f"?period={period}")[0] == ["bob", "alice"]
        assert problems == [], problems

    one_day(scenario)


def test_a_reload_keeps_the_period_view(one_day, open_page):
    def scenario(server, app):
        _, bob = alice_and_bob(server, app)
        page, problems = open_page(server.url + "/", init_scripts=[RECORD_STREAMS])
        expect_ids(page, ["alice", "bob"])
        choose(page, "Today")
        expect(page.get_by_role("table", name="Top 10 players today")).to_be_visible()

        with page.expect_request("**/api/scores/stream?period=day"):
            page.reload()
        expect_state(page, "live")
        expect(radio(page, "Today")).to_be_checked()
        assert page.url == server.url + "/?view=day"
        expect_ids(page, ["alice", "bob"])
        plays(server, bob, "bob", 2)
        expect_score(page, "bob", 3)
        expect_open_streams(page, ["?period=day"])
        assert problems == [], problems

    one_day(scenario)


def test_arrow_keys_move_between_views_past_the_unavailable_one_and_wrap_around(
    served, open_page
):
    server, app = served
    alice_and_bob(server, app)  # read on the whole board only
    page, problems = open_page(server.url + "/", init_scripts=[RECORD_STREAMS])
    expect_state(page, "live")
    expect_ids(page, ["alice", "bob"])

    # "My region" needs a player: the arrow passes it by.
    radio(page, "Global").focus()
    with page.expect_request("**/api/scores/stream?period=week"):
        page.keyboard.press("ArrowRight")
    expect(radio(page, "This week")).to_be_checked()
    expect(radio(page, "This week")).to_be_focused()
    assert page.url == server.url + "/?view=week"

    with page.expect_request("**/api/scores/stream?period=day"):
        page.keyboard.press("ArrowRight")
    expect(radio(page, "Today")).to_be_checked()
    expect(radio(page, "Today")).to_be_focused()
    assert page.url == server.url + "/?view=day"

    # From the last view back to the first: the whole board.
    with page.expect_request(STREAM):
        page.keyboard.press("ArrowRight")
    expect(radio(page, "Global")).to_be_checked()
    expect(radio(page, "Global")).to_be_focused()
    assert page.url == server.url + "/"
    expect(page.get_by_role("table", name="Top 10 players", exact=True)).to_be_visible()
    expect_open_streams(page, [""])
    expect_ids(page, ["alice", "bob"])
    expect_version(page, board_version(server))
    expect_state(page, "live")
    assert problems == [], problems
