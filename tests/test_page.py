"""The live page at ``/`` through the real server (gunicorn + gevent), in Debian's Chromium
driven by Playwright. No browser is ever downloaded: without CHROMIUM these tests skip, or
fail in CI. Screenshots go to test-artifacts/ (git-ignored) for a person to look at."""

import json
import os
import re

import pytest
from playwright.sync_api import expect, sync_playwright

from scoreboard.auth import issue_token

from .harness.players import play_http, token_for
from .harness.servers import ROOT, call

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts"
IN_CI = os.environ.get("CI", "").lower() == "true"
WAIT_MS = 15_000  # the longest any expectation waits for the page
expect.set_options(timeout=WAIT_MS)
STREAM = "**/api/scores/stream"
TOP = "**/api/scores/top*"

# Records every change of #status[data-state] the page's script makes, in order.
RECORD_STATES = """
window.__states = [];
new MutationObserver(function (records) {
  records.forEach(function (r) { window.__states.push(r.target.getAttribute('data-state')); });
}).observe(document, {subtree: true, attributes: true, attributeFilter: ['data-state']});
"""


@pytest.fixture(scope="module")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        # As conftest.service_missing: skip on a developer's machine, fail in CI.
        message = (f"Chromium is not installed at {CHROMIUM} (Debian: apt-get install "
                   "chromium); the page tests drive it and never download a browser")
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser):
    """``open_page(url, options=..., **context_options)``: a page in a fresh context, and the
    list of console errors and uncaught exceptions it reports."""
    contexts = []

    def open_(url, *, options=None, init_scripts=(), routes=(), **context_options):
        context = browser.new_context(**context_options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        problems = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
        if options:
            page.add_init_script(f"window.SCOREBOARD_OPTIONS = {json.dumps(options)};")
        page.add_init_script(RECORD_STATES)
        for script in init_scripts:
            page.add_init_script(script)
        for pattern, handler in routes:
            page.route(pattern, handler)
        page.goto(url)
        return page, problems

    yield open_
    for context in contexts:
        context.close()


def row(page, user_id):
    return page.locator(f'#board-rows tr[data-user-id="{user_id}"]')


def expect_state(page, state):
    expect(page.locator("#status")).to_have_attribute("data-state", state, timeout=WAIT_MS)


def expect_score(page, user_id, score):
    expect(row(page, user_id)).to_have_attribute("data-score", str(score), timeout=WAIT_MS)


def board_version(server) -> int:
    status, body, _ = call("GET", server.url + "/api/scores/top")
    assert status == 200, body
    return body["version"]


# Players for a board that looks lived-in: (user id, display name, daily bonus?, clicks).
CAST = [
    ("ada", "Ada Lovelace", True, 7),
    ("grace", "Grace Hopper", True, 4),
    ("linus", "Linus Torvalds", True, 0),
    ("margaret", "Margaret Hamilton", False, 9),
    ("alan", "Alan Turing", False, 6),
    ("katherine", "Katherine Johnson", False, 5),
    ("zoe", "Zoë Ångström", False, 3),
    ("maxi", "Maximiliana Featherstonehaugh-Cholmondeley", False, 2),
]


def test_live_page_shows_updates_without_reload(serve, redis_url, open_page):
    start, app = serve
    server = start(redis_url)
    page, problems = open_page(server.url + "/", viewport={"width": 1280, "height": 900})

    expect_state(page, "live")
    expect(page.locator("#status")).to_have_text("Connection: Live")
    expect(page.locator("#board-rows")).to_contain_text("No scores yet")
    page.evaluate("window.__sameDocument = true")  # gone if the page ever reloads

    alice = token_for(app, "alice")
    play_http(server.url, alice, "alice")
    expect_score(page, "alice", 1)
    expect(row(page, "alice")).to_contain_text("Alice")
    expect(page.locator("#board-rows tr.empty")).to_have_count(0)

    # Bob overtakes Alice: his row moves to the top.
    bob = token_for(app, "bob")
    play_http(server.url, bob, "bob")
    play_http(server.url, bob, "bob")
    expect_score(page, "bob", 2)
    rows = page.locator("#board-rows tr")
    expect(rows.first).to_have_attribute("data-user-id", "bob")
    expect(rows.nth(1)).to_have_attribute("data-user-id", "alice")
    expect(rows.first).to_have_attribute("data-rank", "1")

    # A name is text, never markup.
    odd = "<b>Mallory</b> & <img src=x onerror=alert(1)>"
    play_http(server.url, token_for(app, "mallory", odd), "mallory")
    expect(row(page, "mallory").locator(".name")).to_have_text(odd)
    assert page.locator("#board-rows b, #board-rows img").count() == 0

    # Fill the board: more than ten players, only the top ten shown, in rank order.
    for user_id, name, bonus, clicks in CAST:
        token = token_for(app, user_id, name)
        if bonus:
            play_http(server.url, token, user_id, "daily-bonus")
        for _ in range(clicks):
            play_http(server.url, token, user_id)
    version = board_version(server)
    expect(page.locator("#board-version")).to_have_text(str(version), timeout=WAIT_MS)
    _, top, _ = call("GET", server.url + "/api/scores/top")
    expect(rows).to_have_count(10)
    shown = [rows.nth(i).get_attribute("data-user-id") for i in range(10)]
    assert shown == [entry["userId"] for entry in top["topScores"]]
    expect(rows.first).to_have_attribute("data-user-id", "ada")
    expect(row(page, "ada").locator(".score-value")).to_have_text("32")

    assert page.evaluate("window.__sameDocument") is True
    expect_state(page, "live")
    assert problems == []

    ARTIFACTS.mkdir(exist_ok=True)
    expect(page.locator("#board-rows tr.moving, #board-rows tr.changed")).to_have_count(0)
    page.screenshot(path=ARTIFACTS / "live-page.png", full_page=True, animations="disabled")
    for name, context_options in [
        ("live-page-mobile.png", {"viewport": {"width": 390, "height": 844},
                                  "device_scale_factor": 2, "is_mobile": True,
                                  "has_touch": True}),
        ("live-page-dark.png", {"viewport": {"width": 1280, "height": 900},
                                "color_scheme": "dark"}),
    ]:
        other, other_problems = open_page(server.url + "/", **context_options)
        expect_state(other, "live")
        expect(other.locator("#board-version")).to_have_text(str(version))
        # Nothing wider than the screen: no sideways scrolling on a phone.
        assert other.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        other.screenshot(path=ARTIFACTS / name, full_page=True, animations="disabled")
        assert other_problems == []


REFUSED = {"success": False, "error": "Streaming needs the gunicorn gevent worker."}
STREAM_FAILURES = {
    # Network errors: the browser reconnects by itself, fails again, and again; then poll.
    "network-error": lambda route: route.abort(),
    # An error status ends the EventSource for good: poll at once.
    "refused": lambda route: route.fulfill(status=503, json=REFUSED),
    # No answer at all (a proxy holding it back): poll once the grace time is over.
    "no-answer": lambda route: None,
}


@pytest.mark.parametrize("failure", STREAM_FAILURES)
def test_falls_back_to_polling_when_streaming_fails_and_returns_to_live(
    serve, redis_url, open_page, failure
):
    start, app = serve
    server = start(redis_url)
    alice = token_for(app, "alice")
    play_http(server.url, alice, "alice")
    page, _ = open_page(
        server.url + "/",
        # The grace time is cut short only where it is what ends the wait.
        options={"pollMs": 400, "streamRetryMs": 1000,
                 "reconnectGraceMs": 2000 if failure == "no-answer" else 60_000},
        routes=[(STREAM, STREAM_FAILURES[failure])],
    )
    status_text = page.locator("#status .status-text")
    if failure == "network-error":
        expect(status_text).to_have_text("Reconnecting…")
    expect_state(page, "polling")
    expect(status_text).to_have_text("Polling every 0.4 s")
    states = page.evaluate("window.__states")
    assert "live" not in states and states[-1] == "polling", states
    expect_score(page, "alice", 1)

    # Polling asks with If-None-Match; the server answers 304 while the board is unchanged.
    with page.expect_response(lambda r: "/api/scores/top" in r.url and r.status == 304) as info:
        pass
    assert info.value.request.headers.get("if-none-match") == '"all~v1-10"'

    # An update still appears, without a reload.
    play_http(server.url, alice, "alice")
    expect_score(page, "alice", 2)
    expect(row(page, "alice").locator(".score-value")).to_have_text("2")

    # Streaming works again: the page notices on its own and goes back to live.
    page.unroute(STREAM)
    expect_state(page, "live")
    play_http(server.url, alice, "alice")
    expect_score(page, "alice", 3)
    assert page.evaluate("window.__states")[-1] == "live"


def test_polls_without_eventsource_and_ignores_older_versions(serve, redis_url, open_page):
    start, app = serve
    server = start(redis_url)
    page, problems = open_page(
        server.url + "/",
        options={"pollMs": 300},
        init_scripts=["delete window.EventSource;"],
    )
    expect_state(page, "polling")
    expect(page.locator("#board-rows")).to_contain_text("No scores yet")

    alice = token_for(app, "alice")
    play_http(server.url, alice, "alice")
    play_http(server.url, alice, "alice")
    expect_score(page, "alice", 2)
    expect(page.locator("#board-version")).to_have_text("2")

    # A stale answer (a lagging replica, say) must not take the board back.
    stale = {"topScores": [{"userId": "ghost", "score": 99, "rank": 1,
                            "displayName": "Ghost"}], "version": 1}
    page.route(TOP, lambda route: route.fulfill(json=stale, headers={"ETag": '"v1-10"'}))
    for _ in range(2):  # polls are sequential: the second one starts after the first rendered
        with page.expect_request(TOP):
            pass
    expect(row(page, "ghost")).to_have_count(0)
    expect_score(page, "alice", 2)
    expect(page.locator("#board-version")).to_have_text("2")
    assert problems == []


def test_page_is_accessible_and_error_free(serve, redis_url, open_page):
    start, app = serve
    server = start(redis_url)
    page, problems = open_page(server.url + "/")
    expect_state(page, "live")

    assert page.locator("html").get_attribute("lang") == "en"
    viewport = page.locator('meta[name="viewport"]').get_attribute("content")
    assert "width=device-width" in viewport
    table = page.get_by_role("table", name="Top 10 players")
    expect(table).to_be_visible()
    for header in ("Rank", "Player", "Score"):
        expect(table.get_by_role("columnheader", name=header)).to_have_attribute("scope", "col")

    # Status changes are announced politely; row updates are not announced at all.
    status = page.get_by_role("status")
    expect(status).to_have_attribute("aria-live", "polite")
    expect(status).to_have_attribute("id", "status")
    expect(page.locator("[aria-live]")).to_have_count(1)

    play_http(server.url, token_for(app, "alice", "Alice Example"), "alice")
    expect(table.get_by_role("rowheader", name="Alice Example")).to_have_attribute(
        "scope", "row"
    )
    expect(table.get_by_role("row").filter(has_text="Alice Example")).to_contain_text("1")
    assert problems == [], problems


def test_page_reconnects_by_itself_when_the_server_ends_the_stream(serve, redis_url, open_page):
    start, app = serve
    # Streams that end after about a second, and a short reconnection delay.
    server = start(redis_url, STREAM_LIFETIME_SECONDS="1", STREAM_RETRY_MS="200")
    page, problems = open_page(server.url + "/")
    expect_state(page, "live")
    page.wait_for_function(
        "window.__states.includes('reconnecting') && window.__states.at(-1) === 'live'",
        timeout=WAIT_MS,
    )
    alice = token_for(app, "alice")
    play_http(server.url, alice, "alice")
    expect_score(page, "alice", 1)
    play_http(server.url, alice, "alice")
    expect_score(page, "alice", 2)
    assert "polling" not in page.evaluate("window.__states")
    assert problems == []


# ---------------------------------------------------------------------- views and "You"

# Keeps every EventSource the page makes, to see which are still open after a switch.
RECORD_STREAMS = """
window.__streams = [];
if (window.EventSource) {
  const Native = window.EventSource;
  window.EventSource = class extends Native {
    constructor(url, init) { super(url, init); window.__streams.push(this); }
  };
}
"""
# Keeps the time and address of every request the page makes about a player.
RECORD_RANK_FETCHES = """
window.__rankFetches = [];
const nativeFetch = window.fetch;
window.fetch = function (input, init) {
  const url = String((input && input.url) || input);
  if (url.includes('/api/users/') || url.includes('/api/scores/users/')) {
    window.__rankFetches.push([performance.now(), url]);
  }
  return nativeFetch.apply(this, arguments);
};
"""
# The query strings of the page's streams that are not closed.
OPEN_STREAMS = ("window.__streams.filter(s => s.readyState !== EventSource.CLOSED)"
                ".map(s => new URL(s.url).search)")
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2,
         "is_mobile": True, "has_touch": True}


def choose(page, label):
    """Pick a view as a person does: click its label in the switcher."""
    page.locator("#views label").filter(has_text=label).click()


def radio(page, name):
    return page.get_by_role("radio", name=name, exact=True)


def expect_ids(page, ids):
    """The board shows exactly these players, in this order."""
    expect(page.locator("#board-rows tr[data-user-id]")).to_have_count(len(ids))
    page.wait_for_function(
        "ids => JSON.stringify([...document.querySelectorAll('#board-rows tr[data-user-id]')]"
        ".map(r => r.dataset.userId)) === JSON.stringify(ids)", arg=ids, timeout=WAIT_MS)


def expect_open_streams(page, queries):
    page.wait_for_function(f"queries => JSON.stringify({OPEN_STREAMS}) === "
                           "JSON.stringify(queries)", arg=queries, timeout=WAIT_MS)


def top_ids(server, query=""):
    status, body, _ = call("GET", server.url + "/api/scores/top" + query)
    assert status == 200, body
    return [entry["userId"] for entry in body["topScores"]], body["version"]


def test_player_sees_own_rank_and_region_board_live(serve, redis_url, open_page):
    start, app = serve
    server = start(redis_url)
    tokens = {}
    # (user id, name, region, clicks): on the global board Amélie, Greta, Hans, Pierre.
    for user_id, name, region, clicks in [("hans", "Hans Müller", "DE", 2),
                                           ("greta", "Greta Weber", "DE", 3),
                                           ("amelie", "Amélie Laurent", "FR", 4),
                                           ("pierre", "Pierre Martin", "FR", 1)]:
        tokens[user_id] = token_for(app, user_id, name, region=region)
        for _ in range(clicks):
            play_http(server.url, tokens[user_id], user_id)

    page, problems = open_page(server.url + "/#token=" + tokens["hans"],
                               viewport={"width": 1280, "height": 900},
                               init_scripts=[RECORD_STREAMS, RECORD_RANK_FETCHES])
    expect_state(page, "live")
    me = page.locator("#me .me-line")
    expect(me).to_have_text("You: Hans Müller — rank 3, score 2")
    # The token leaves the address bar at once, and is kept for the next visit.
    assert "token" not in page.url and page.url == server.url + "/"
    assert page.evaluate("localStorage.getItem('scoreboard.token')") == tokens["hans"]
    expect_ids(page, ["amelie", "greta", "hans", "pierre"])
    expect(row(page, "hans")).to_have_class(re.compile(r"\bmine\b"))
    expect(row(page, "hans").locator(".you-tag")).to_be_visible()
    expect(page.locator("#board-rows tr.mine")).to_have_count(1)
    expect(radio(page, "Global")).to_be_checked()

    # "My region": only the DE players, from the region's own stream.
    expect(radio(page, "My region")).to_be_enabled()
    with page.expect_request("**/api/scores/stream?region=DE"):
        choose(page, "My region")
    expect(radio(page, "My region")).to_be_checked()
    expect_ids(page, ["greta", "hans"])
    expect(page.get_by_role("table", name="Top 10 players in Germany")).to_be_visible()
    expect(me).to_have_text("You: Hans Müller — rank 2, score 2")
    expect(row(page, "hans")).to_have_class(re.compile(r"\bmine\b"))
    assert page.url == server.url + "/?view=region"
    expect_open_streams(page, ["?region=DE"])
    _, de_version = top_ids(server, "?region=DE")
    expect(page.locator("#board-version")).to_have_text(str(de_version))

    # Live: a FR player's points (even a newcomer's) stay off this board, a DE player's
    # show up; the player's own line follows, whoever moved.
    play_http(server.url, tokens["amelie"], "amelie")
    claire = token_for(app, "claire", "Claire Dubois", region="FR")
    for _ in range(6):
        play_http(server.url, claire, "claire")
    play_http(server.url, tokens["hans"], "hans")
    play_http(server.url, tokens["hans"], "hans")
    expect_score(page, "hans", 4)
    expect_ids(page, ["hans", "greta"])
    expect(me).to_have_text("You: Hans Müller — rank 1, score 4")
    for _ in range(2):
        play_http(server.url, tokens["greta"], "greta")
    expect_score(page, "greta", 5)
    expect_ids(page, ["greta", "hans"])
    expect(me).to_have_text("You: Hans Müller — rank 2, score 4")
    ids, de_version = top_ids(server, "?region=DE")
    assert ids == ["greta", "hans"]
    expect(page.locator("#board-version")).to_have_text(str(de_version))
    assert top_ids(server)[0][:2] == ["claire", "amelie"]  # they did score, globally
    expect(page.locator('#board-rows tr[data-user-id="claire"], '
                        '#board-rows tr[data-user-id="amelie"]')).to_have_count(0)
    # The rank follows every snapshot, but is asked for at most once a second, for the view.
    fetches = [f for f in page.evaluate("window.__rankFetches") if "/scores/users/" in f[1]]
    assert fetches[-1][1].endswith("/api/scores/users/hans?region=DE"), fetches
    gaps = [later[0] - earlier[0] for earlier, later in zip(fetches, fetches[1:])]
    assert len(fetches) >= 4 and min(gaps) >= 990, fetches

    ARTIFACTS.mkdir(exist_ok=True)
    expect(page.locator("#board-rows tr.moving, #board-rows tr.changed")).to_have_count(0)
    page.screenshot(path=ARTIFACTS / "live-page-views.png", full_page=True,
                    animations="disabled")

    # A reload keeps the view, and the stored token brings the player's line back.
    with page.expect_request("**/api/scores/stream?region=DE"):
        page.reload()
    expect(radio(page, "My region")).to_be_checked()
    expect_ids(page, ["greta", "hans"])
    expect(me).to_have_text("You: Hans Müller — rank 2, score 4")
    expect_state(page, "live")

    # A phone, opened straight on the region view from a link with the token.
    for name, context_options in [("live-page-views-mobile.png", PHONE),
                                  ("live-page-views-dark.png",
                                   {**PHONE, "color_scheme": "dark"})]:
        phone, phone_problems = open_page(
            server.url + "/?view=region#token=" + tokens["hans"], **context_options)
        expect_state(phone, "live")
        expect(radio(phone, "My region")).to_be_checked()
        expect_ids(phone, ["greta", "hans"])
        expect(phone.locator("#me .me-line")).to_have_text("You: Hans Müller — rank 2, score 4")
        assert phone.url == server.url + "/?view=region"
        # Nothing wider than the screen, and every view's name fits its button.
        assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert phone.eval_on_selector_all(
            "#views label", "ls => ls.every(l => l.scrollWidth <= l.clientWidth)")
        phone.screenshot(path=ARTIFACTS / name, full_page=True, animations="disabled")
        assert phone_problems == []

    # Sign out: the token is forgotten, "My region" goes with it, the global board returns.
    with page.expect_request(STREAM):
        page.get_by_role("button", name="Sign out").click()
    expect(me).to_be_hidden()
    expect(radio(page, "Global")).to_be_checked()
    expect(radio(page, "Global")).to_be_focused()
    expect(radio(page, "My region")).to_be_disabled()
    expect_ids(page, top_ids(server)[0])
    expect(page.locator("#board-rows tr.mine")).to_have_count(0)
    assert page.url == server.url + "/"
    assert page.evaluate("localStorage.getItem('scoreboard.token')") is None
    expect_open_streams(page, [""])
    page.reload()
    expect_state(page, "live")
    expect_ids(page, top_ids(server)[0])
    expect(me).to_be_hidden()
    assert problems == [], problems


def test_week_and_day_views_stream_their_boards_and_survive_a_reload(
    serve, redis_url, open_page
):
    start, app = serve
    server = start(redis_url)
    alice, bob = token_for(app, "alice"), token_for(app, "bob")
    play_http(server.url, alice, "alice")
    play_http(server.url, alice, "alice")
    play_http(server.url, bob, "bob")
    page, problems = open_page(server.url + "/",
                               init_scripts=[RECORD_STREAMS, RECORD_RANK_FETCHES])
    expect_state(page, "live")
    expect_ids(page, ["alice", "bob"])
    # Without a token: no player's line, no "My region", and no request for either.
    expect(page.locator("#me")).to_be_hidden()
    expect(radio(page, "My region")).to_be_disabled()
    assert page.evaluate("window.__rankFetches") == []

    # Keyboard: arrows move between the views, past the unavailable one.
    radio(page, "Global").focus()
    with page.expect_request("**/api/scores/stream?period=week"):
        page.keyboard.press("ArrowRight")
    expect(radio(page, "This week")).to_be_checked()
    expect(radio(page, "This week")).to_be_focused()
    assert page.url == server.url + "/?view=week"
    expect(page.get_by_role("table", name="Top 10 players this week")).to_be_visible()
    expect_ids(page, ["alice", "bob"])  # everything so far happened this week
    expect_open_streams(page, ["?period=week"])
    _, week_version = top_ids(server, "?period=week")
    expect(page.locator("#board-version")).to_have_text(str(week_version))
    play_http(server.url, bob, "bob")
    play_http(server.url, bob, "bob")
    expect_score(page, "bob", 3)
    expect_ids(page, ["bob", "alice"])

    with page.expect_request("**/api/scores/stream?period=day"):
        choose(page, "Today")
    expect(radio(page, "Today")).to_be_checked()
    assert page.url == server.url + "/?view=day"
    expect(page.get_by_role("table", name="Top 10 players today")).to_be_visible()
    expect_open_streams(page, ["?period=day"])
    play_http(server.url, alice, "alice")
    play_http(server.url, alice, "alice")
    expect_score(page, "alice", 4)
    expect_ids(page, ["alice", "bob"])
    assert top_ids(server, "?period=day")[0] == ["alice", "bob"]

    # A reload keeps the view.
    with page.expect_request("**/api/scores/stream?period=day"):
        page.reload()
    expect_state(page, "live")
    expect(radio(page, "Today")).to_be_checked()
    expect_ids(page, ["alice", "bob"])
    play_http(server.url, bob, "bob")
    play_http(server.url, bob, "bob")
    expect_score(page, "bob", 5)
    expect_open_streams(page, ["?period=day"])

    # And back to the whole board: the arrows wrap around from the last view to the first.
    with page.expect_request(STREAM):
        radio(page, "Today").focus()
        page.keyboard.press("ArrowRight")
    expect(radio(page, "Global")).to_be_checked()
    assert page.url == server.url + "/"
    expect(page.get_by_role("table", name="Top 10 players", exact=True)).to_be_visible()
    expect_open_streams(page, [""])
    expect_score(page, "bob", 5)
    expect_state(page, "live")
    assert page.evaluate("window.__rankFetches") == []
    assert problems == [], problems


def test_polling_follows_the_view_and_its_own_versions(serve, redis_url, open_page):
    start, app = serve
    server = start(redis_url)
    alice = token_for(app, "alice")
    for _ in range(3):
        play_http(server.url, alice, "alice")
    page, problems = open_page(server.url + "/?view=week", options={"pollMs": 300},
                               init_scripts=["delete window.EventSource;"])
    expect_state(page, "polling")
    expect(radio(page, "This week")).to_be_checked()
    expect_score(page, "alice", 3)
    _, week_version = top_ids(server, "?period=week")
    expect(page.locator("#board-version")).to_have_text(str(week_version))
    assert week_version > 1

    # Today's board is at version 1 (an answer made up here): older than the week's board
    # shown, but versions are per view, so it shows; a stale answer of that view does not.
    today = {"topScores": [{"userId": "ghost", "score": 99, "rank": 1,
                            "displayName": "Ghost"}], "version": 1}
    page.route("**/api/scores/top?period=day",
               lambda route: route.fulfill(json=today, headers={"ETag": '"day~v1-10"'}))
    with page.expect_request("**/api/scores/top?period=day") as first:
        choose(page, "Today")
    assert first.value.headers.get("if-none-match") is None  # the week's ETag is not today's
    expect_ids(page, ["ghost"])
    expect(page.locator("#board-version")).to_have_text("1")
    with page.expect_request("**/api/scores/top?period=day") as again:
        pass
    assert again.value.headers.get("if-none-match") == '"day~v1-10"'

    page.unroute("**/api/scores/top?period=day")
    expect_ids(page, ["alice"])  # the real board of today: a newer version
    _, day_version = top_ids(server, "?period=day")
    expect(page.locator("#board-version")).to_have_text(str(day_version))
    page.route("**/api/scores/top?period=day", lambda route: route.fulfill(json=today))
    for _ in range(2):  # polls are sequential: the second starts after the first rendered
        with page.expect_request("**/api/scores/top?period=day"):
            pass
    expect_ids(page, ["alice"])

    # Back to the whole board: polls of /top without parameters, updates still arrive.
    with page.expect_request(lambda r: r.url == server.url + "/api/scores/top"):
        choose(page, "Global")
    play_http(server.url, alice, "alice")
    expect_score(page, "alice", 4)
    assert page.url == server.url + "/"
    expect_state(page, "polling")
    assert problems == [], problems


def test_a_token_that_is_no_good_is_forgotten_and_the_page_works_without(
    serve, redis_url, open_page
):
    start, app = serve
    server = start(redis_url)
    play_http(server.url, token_for(app, "alice"), "alice")
    with app.app_context():
        expired = issue_token("hans", name="Hans", region="DE", ttl=-3600)
    revoked = token_for(app, "hans", "Hans", region="DE")
    status, body, _ = call("POST", server.url + "/api/auth/revoke",
                           headers={"Authorization": f"Bearer {revoked}"})
    assert status == 200, body

    # Expired by its own claims: not even sent. Revoked: the server refuses it (the browser
    # logs that 401 by itself; the page's script reports nothing).
    for token, allowed in [(expired, []), (revoked, [REFUSED_LOG]), ("not-a-token", [])]:
        page, problems = open_page(server.url + "/?view=region#token=" + token)
        expect_state(page, "live")
        expect(radio(page, "Global")).to_be_checked()
        expect(radio(page, "My region")).to_be_disabled()
        expect_ids(page, ["alice"])
        expect(page.locator("#me")).to_be_hidden()
        page.wait_for_function("localStorage.getItem('scoreboard.token') === null")
        assert page.url == server.url + "/"
        assert problems == allowed, problems


REFUSED_LOG = "Failed to load resource: the server responded with a status of 401 (UNAUTHORIZED)"
