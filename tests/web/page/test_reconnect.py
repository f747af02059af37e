"""A stream the server ends (as it does after its lifetime) is reopened by the browser on its
own: the page shows "reconnecting" for a moment, never polls, and misses no update."""

from ...harness.players import token_for
from .helpers import expect_score, expect_state, plays, states


def test_reconnects_by_itself_when_the_server_ends_the_stream(serve, redis_url, open_page):
    start, app = serve
    # Streams that end after about a second, and a short reconnection delay.
    server = start(redis_url, STREAM_LIFETIME_SECONDS="1", STREAM_RETRY_MS="200")
    page, problems = open_page(server.url + "/")
    expect_state(page, "live")
    page.wait_for_function(
        "() => window.__states.includes('reconnecting') && window.__states.at(-1) === 'live'"
    )
    alice = token_for(app, "alice")
    plays(server, alice, "alice")
    expect_score(page, "alice", 1)
    plays(server, alice, "alice")
    expect_score(page, "alice", 2)
    assert "polling" not in states(page)
    assert problems == []
