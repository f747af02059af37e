"""What the page tests do and check, shared: reading the board, waiting for it, choosing a
view, scripts that record what the page does, and plays through the real server.

Waits use the page's default timeout and expect's (both WAIT_MS, set in conftest). A
wait_for_function is always given a function: Playwright evaluates a bare expression with
eval() on every poll, which the page's Content-Security-Policy refuses."""

from playwright.sync_api import expect

from ...harness.players import play_http, token_for
from ...harness.servers import call, metric
from ...harness.waiting import wait_for

# Records every change of #status[data-state] the page's script makes, in order.
RECORD_STATES = """
window.__states = [];
new MutationObserver(function (records) {
  records.forEach(function (r) { window.__states.push(r.target.getAttribute('data-state')); });
}).observe(document, {subtree: true, attributes: true, attributeFilter: ['data-state']});
"""
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
# Keeps every Content-Security-Policy violation the page (and each frame in it) reports.
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__violations.push(e.effectiveDirective + ' ' + (e.blockedURI || e.sample));
});
"""
# The query strings of the page's streams that are not closed.
OPEN_STREAMS = ("window.__streams.filter(s => s.readyState !== EventSource.CLOSED)"
                ".map(s => new URL(s.url).search)")
NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"
LABELS_FIT = "ls => ls.length > 0 && ls.every(l => l.scrollWidth <= l.clientWidth)"


def plays(server, token, user_id, times=1, action_type="click"):
    """``times`` plays of ``user_id`` through the real server; returns the last score."""
    score = None
    for _ in range(times):
        score = play_http(server.url, token, user_id, action_type)
    return score


def play_cast(server, app, cast):
    """Plays for each of ``cast``: (user id, name, daily bonus?, clicks)."""
    for user_id, name, bonus, clicks in cast:
        token = token_for(app, user_id, name)
        if bonus:
            plays(server, token, user_id, action_type="daily-bonus")
        plays(server, token, user_id, clicks)


def play_regional(server, app, players):
    """Plays for each of ``players``: (user id, name, region, clicks); their tokens by id."""
    tokens = {}
    for user_id, name, region, clicks in players:
        tokens[user_id] = token_for(app, user_id, name, region=region)
        plays(server, tokens[user_id], user_id, clicks)
    return tokens


def row(page, user_id):
    return page.locator(f'#board-rows tr[data-user-id="{user_id}"]')


def expect_state(page, state):
    expect(page.locator("#status")).to_have_attribute("data-state", state)


def expect_score(page, user_id, score):
    expect(row(page, user_id)).to_have_attribute("data-score", str(score))


def expect_version(page, version):
    expect(page.locator("#board-version")).to_have_text(str(version))


def expect_ids(page, ids):
    """The board shows exactly these players, in this order."""
    expect(page.locator("#board-rows tr[data-user-id]")).to_have_count(len(ids))
    page.wait_for_function(
        "ids => JSON.stringify([...document.querySelectorAll('#board-rows tr[data-user-id]')]"
        ".map(r => r.dataset.userId)) === JSON.stringify(ids)", arg=ids)


def expect_open_streams(page, queries):
    """The page's open streams are exactly these (by query string); needs RECORD_STREAMS."""
    page.wait_for_function(f"queries => JSON.stringify({OPEN_STREAMS}) === "
                           "JSON.stringify(queries)", arg=queries)


def expect_settled(page):
    """No row is still gliding or highlighted (before a screenshot)."""
    expect(page.locator("#board-rows tr.moving, #board-rows tr.changed")).to_have_count(0)


def states(page):
    """Every connection state the page has been in, in order (the first excepted)."""
    return page.evaluate("window.__states")


def choose(page, label):
    """Pick a view as a person does: click its label in the switcher."""
    page.locator("#views label").filter(has_text=label).click()


def radio(page, name):
    return page.get_by_role("radio", name=name, exact=True)


def me_line(page):
    return page.locator("#me .me-line")


def stored_token(page):
    return page.evaluate("localStorage.getItem('scoreboard.token')")


def violations(page_or_frame):
    """The policy violations reported so far; needs RECORD_VIOLATIONS."""
    return page_or_frame.evaluate("window.__violations")


def rank_fetches(page):
    """(time in ms, URL) of each request for the player's rank; needs RECORD_RANK_FETCHES."""
    return [f for f in page.evaluate("window.__rankFetches") if "/scores/users/" in f[1]]


def top(server, query=""):
    """The view's board once the server's refresher has caught up with every write made so
    far (the first read may be what hands it a view it did not hold)."""
    call("GET", server.url + "/api/scores/top" + query)
    wait_for(lambda: metric(server, "board_refreshes_due") == 0,
             "the server's boards to catch up with the writes")
    status, body, _ = call("GET", server.url + "/api/scores/top" + query)
    assert status == 200, body
    return body


def top_ids(server, query=""):
    """The ids on a view of the board, as the API has them, and that view's version."""
    body = top(server, query)
    return [entry["userId"] for entry in body["topScores"]], body["version"]


def board_version(server, query="") -> int:
    return top(server, query)["version"]
