"""When streaming fails (network errors, a refusal, or no answer at all) the page polls,
which keeps the board up to date; once streaming works again it goes back to live."""

import pytest
from playwright.sync_api import expect

from ...harness.players import token_for
from .conftest import STREAM
from .helpers import expect_score, expect_state, plays, row, states

REFUSED = {"success": False, "error": "Streaming needs the gunicorn gevent worker."}
STREAM_FAILURES = {
    # Network errors: the browser reconnects by itself, fails again, and again; then poll.
    "network-error": lambda route: route.abort(),
    # An error status ends the EventSource for good: poll at once.
    "refused": lambda route: route.fulfill(status=503, json=REFUSED),
    # No answer at all (a proxy holding it back): poll once the grace time is over.
    "no-answer": lambda route: None,
}


def open_with_failing_stream(open_page, server, failure, **options):
    return open_page(
        server.url + "/",
        # The grace time is cut short only where it is what ends the wait.
        options={"pollMs": 400, "streamRetryMs": 1000,
                 "reconnectGraceMs": 2000 if failure == "no-answer" else 60_000, **options},
        routes=[(STREAM, STREAM_FAILURES[failure])],
    )


@pytest.mark.parametrize("failure", STREAM_FAILURES)
def test_falls_back_to_polling_which_keeps_the_board_up_to_date(served, open_page, failure):
    server, app = served
    alice = token_for(app, "alice")
    plays(server, alice, "alice")
    page, _ = open_with_failing_stream(open_page, server, failure)

    status_text = page.locator("#status .status-text")
    if failure == "network-error":
        expect(status_text).to_have_text("Reconnecting…")
    expect_state(page, "polling")
    expect(status_text).to_have_text("Polling every 0.4 s")
    seen = states(page)
    assert "live" not in seen and seen[-1] == "polling", seen
    expect_score(page, "alice", 1)

    # An update still appears, without a reload.
    plays(server, alice, "alice")
    expect_score(page, "alice", 2)
    expect(row(page, "alice").locator(".score-value")).to_have_text("2")
    expect_state(page, "polling")


@pytest.mark.parametrize("failure", STREAM_FAILURES)
def test_goes_back_to_live_once_streaming_works_again(served, open_page, failure):
    server, app = served
    alice = token_for(app, "alice")
    plays(server, alice, "alice")
    # How the page comes to poll is the test above's; here it polls at the first failure
    # (the browser's own reconnection delay after a network error is three seconds).
    page, _ = open_with_failing_stream(open_page, server, failure, failuresBeforePolling=1)
    expect_state(page, "polling")
    expect_score(page, "alice", 1)

    # The page tries streaming again now and then, and notices on its own that it works.
    # (Removing the route also lets through a try that it was holding back unanswered.)
    page.unroute(STREAM)
    expect_state(page, "live")
    plays(server, alice, "alice")
    expect_score(page, "alice", 2)
    assert states(page)[-1] == "live"
