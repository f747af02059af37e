"""Waiting on a condition, with a deadline and a message that says what never happened."""

import time


def wait_for(predicate, what: str, timeout=30.0, interval=0.05, show=None):
    """Poll ``predicate`` until it returns something true, and return that; after ``timeout``
    fail the test saying ``what`` never happened, with ``show()`` (the state that was seen)."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            seen = f"; last seen: {show()!r}" if show else ""
            raise AssertionError(f"after {timeout:g} s still waiting for {what}{seen}")
        time.sleep(interval)
