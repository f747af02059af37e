"""Waiting, with a deadline and a message that says what never happened: on a condition, or
on a call running in a thread of its own."""

import threading
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


class InBackground:
    """``fn()`` run in a thread of its own from now on; ``result()`` waits for it (with a
    deadline) and returns what it returned, or raises what it raised."""

    def __init__(self, fn):
        self._outcome = []
        self._thread = threading.Thread(target=self._run, args=(fn,), daemon=True)
        self._thread.start()

    def _run(self, fn):
        try:
            self._outcome.append((True, fn()))
        except BaseException as error:  # handed to result()
            self._outcome.append((False, error))

    def result(self, timeout=30.0):
        self._thread.join(timeout)
        if not self._outcome:
            raise AssertionError(f"after {timeout:g} s the background call has not returned")
        (returned, value), = self._outcome
        if not returned:
            raise value
        return value
