"""Polling /api/scores/top (without EventSource here): updates arrive, unchanged boards cost
a 304, and versions and ETags belong to a view, so no older board ever comes back. A test
that reads a day's or a week's board runs in one_day (conftest.py)."""

from playwright.sync_api import expect

from ...harness.players import token_for
from .conftest import TOP
from .helpers import (
    board_version,
    choose,
    expect_ids,
    expect_score,
    expect_state,
    expect_version,
    plays,
    radio,
    row,
)

NO_EVENTSOURCE = "delete window.EventSource;"
GHOST = {"topScores": [{"userId": "ghost", "score": 99, "rank": 1, "displayName": "Ghost"}],
         "version": 1}
DAY = "**/api/scores/top?period=day"


def open_polling(open_page, url):
    return open_page(url, options={"pollMs": 300}, init_scripts=[NO_EVENTSOURCE])


def test_polls_when_the_browser_has_no_eventsource(served, open_page):
    server, app = served
    page, problems = open_polling(open_page, server.url + "/")
    expect_state(page, "polling")
    expect(page.locator("#board-rows")).to_contain_text("No scores yet")

    plays(server, token_for(app, "alice"), "alice", 2)
    expect_score(page, "alice", 2)
    expect_version(page, 2)
    expect_state(page, "polling")
    assert problems == []


def test_polls_ask_with_if_none_match_and_an_unchanged_board_costs_a_304(served, open_page):
    server, app = served
    plays(server, token_for(app, "alice"), "alice")
    page, problems = open_polling(open_page, server.url + "/")
    expect_state(page, "polling")
    expect_score(page, "alice", 1)

    with page.expect_response(lambda r: "/api/scores/top" in r.url and r.status == 304) as info:
        pass
    assert info.value.request.headers.get("if-none-match") == '"all~v1-10"'
    expect_score(page, "alice", 1)
    assert problems == []


def test_an_older_version_never_takes_the_board_back(served, open_page):
    server, app = served
    plays(server, token_for(app, "alice"), "alice", 2)
    page, problems = open_polling(open_page, server.url + "/")
    expect_state(page, "polling")
    expect_score(page, "alice", 2)
    expect_version(page, 2)

    # A stale answer (a lagging replica, say) must not take the board back.
    page.route(TOP, lambda route: route.fulfill(json=GHOST, headers={"ETag": '"v1-10"'}))
    for _ in range(2):  # polls are sequential: the second one starts after the first rendered
        with page.expect_request(TOP):
            pass
    expect(row(page, "ghost")).to_have_count(0)
    expect_score(page, "alice", 2)
    expect_version(page, 2)
    assert problems == []


def test_polling_follows_the_view(one_day, open_page):
    def scenario(server, app):
        alice = token_for(app, "alice")
        plays(server, alice, "alice", 3)
        page, problems = open_polling(open_page, server.url + "/?view=week")
        expect_state(page, "polling")
        expect(radio(page, "This week")).to_be_checked()
        expect_score(page, "alice", 3)
        expect_version(page, board_version(server, "?period=week"))

        # Back to the whole board: polls of /top without parameters, updates still arrive.
        with page.expect_request(lambda r: r.url == server.url + "/api/scores/top"):
            choose(page, "Global")
        expect(radio(page, "Global")).to_be_checked()
        plays(server, alice, "alice")
        expect_score(page, "alice", 4)
        expect_version(page, board_version(server))
        assert page.url == server.url + "/"
        expect_state(page, "polling")
        assert problems == []

    one_day(scenario)


def test_each_view_has_versions_of_its_own(one_day, open_page):
    def scenario(server, app):
        plays(server, token_for(app, "alice"), "alice", 3)
        page, problems = open_polling(open_page, server.url + "/?view=week")
        expect_state(page, "polling")
        expect_score(page, "alice", 3)
        week_version = board_version(server, "?period=week")
        expect_version(page, week_version)
        assert week_version > 1

        # Today's board at version 1 (an answer made up here) is older than the week's
        # board shown, but versions are per view, so it shows.
        page.route(DAY, lambda route: route.fulfill(json=GHOST))
        choose(page, "Today")
        expect_ids(page, ["ghost"])
        expect_version(page, 1)

        # The real board of today is a newer version of it; then a stale one of it is
        # ignored.
        page.unroute(DAY)
        expect_ids(page, ["alice"])
        expect_version(page, board_version(server, "?period=day"))
        page.route(DAY, lambda route: route.fulfill(json=GHOST))
        for _ in range(2):  # polls are sequential: the second starts after the first rendered
            with page.expect_request(DAY):
                pass
        expect_ids(page, ["alice"])
        assert problems == []

    one_day(scenario)


def test_each_view_has_an_etag_of_its_own(served, open_page):
    server, app = served
    plays(server, token_for(app, "alice"), "alice")
    page, problems = open_polling(open_page, server.url + "/?view=week")
    expect_state(page, "polling")
    # The week's board is known, with its ETag.
    with page.expect_request(lambda r: "period=week" in r.url
                             and r.headers.get("if-none-match")) as week:
        pass
    assert week.value.headers["if-none-match"].startswith('"week:'), week.value.headers

    page.route(DAY, lambda route: route.fulfill(json=GHOST, headers={"ETag": '"day~v1-10"'}))
    with page.expect_request(DAY) as first:
        choose(page, "Today")
    assert first.value.headers.get("if-none-match") is None  # the week's ETag is not today's
    expect_ids(page, ["ghost"])
    with page.expect_request(DAY) as again:
        pass
    assert again.value.headers.get("if-none-match") == '"day~v1-10"'
    assert problems == []
