"""The whole board, live: scores show up and players move without a reload, names stay
text, and no more than ten players are shown."""

from playwright.sync_api import expect

from ...harness.players import token_for
from .conftest import CAST
from .helpers import (
    expect_score,
    expect_state,
    expect_version,
    play_cast,
    plays,
    row,
    top_ids,
)


def test_an_empty_board_is_live_and_says_so(served, open_page):
    server, _ = served
    page, problems = open_page(server.url + "/")
    expect_state(page, "live")
    expect(page.locator("#status")).to_have_text("Connection: Live")
    expect(page.locator("#board-rows")).to_contain_text("No scores yet")
    assert problems == []


def test_a_score_shows_up_without_a_reload(served, open_page):
    server, app = served
    page, problems = open_page(server.url + "/")
    expect_state(page, "live")
    expect(page.locator("#board-rows")).to_contain_text("No scores yet")  # the first snapshot
    page.evaluate("window.__sameDocument = true")  # gone if the page ever reloads

    plays(server, token_for(app, "alice"), "alice")
    expect_score(page, "alice", 1)
    expect(row(page, "alice")).to_contain_text("Alice")
    expect(page.locator("#board-rows tr.empty")).to_have_count(0)
    assert page.evaluate("window.__sameDocument") is True
    expect_state(page, "live")
    assert problems == []


def test_a_player_who_overtakes_moves_to_the_top(served, open_page):
    server, app = served
    plays(server, token_for(app, "alice"), "alice")
    page, problems = open_page(server.url + "/")
    expect_score(page, "alice", 1)

    plays(server, token_for(app, "bob"), "bob", 2)
    expect_score(page, "bob", 2)
    rows = page.locator("#board-rows tr")
    expect(rows.first).to_have_attribute("data-user-id", "bob")
    expect(rows.first).to_have_attribute("data-rank", "1")
    expect(rows.nth(1)).to_have_attribute("data-user-id", "alice")
    expect(rows.nth(1)).to_have_attribute("data-rank", "2")
    assert problems == []


def test_a_name_is_shown_as_text_never_as_markup(served, open_page):
    server, app = served
    page, problems = open_page(server.url + "/")
    expect(page.locator("#board-rows")).to_contain_text("No scores yet")

    odd = "<b>Mallory</b> & <img src=x onerror=alert(1)>"
    plays(server, token_for(app, "mallory", odd), "mallory")
    expect(row(page, "mallory").locator(".name")).to_have_text(odd)
    assert page.locator("#board-rows b, #board-rows img").count() == 0
    assert problems == []


def test_only_the_top_ten_are_shown_in_rank_order(served, open_page):
    server, app = served
    plays(server, token_for(app, "alice"), "alice")
    plays(server, token_for(app, "bob"), "bob", 2)
    plays(server, token_for(app, "mallory", "Mallory"), "mallory")
    page, problems = open_page(server.url + "/")
    expect_score(page, "bob", 2)

    # Eight more players while the page looks on: eleven in all, the last one drops off.
    play_cast(server, app, CAST)
    ids, version = top_ids(server)
    expect_version(page, version)
    rows = page.locator("#board-rows tr")
    expect(rows).to_have_count(10)
    assert [rows.nth(i).get_attribute("data-user-id") for i in range(10)] == ids
    expect(rows.first).to_have_attribute("data-user-id", "ada")
    expect(row(page, "ada").locator(".score-value")).to_have_text("32")
    expect_state(page, "live")
    assert problems == []
