"""The per-IP limit on board reads, counted in this process's memory.

A read served from this worker's memory is cheaper than Flask-Limiter's per-request checks,
and much cheaper than a Redis round trip, so reads are counted here, per worker (with N
workers an address may read N times the limit), in fixed windows. The ``limits`` library's
memory storage re-arms a timer thread (a greenlet under gevent) to expire its counters, which
measured at several per cent of a worker's time; a window that starts afresh needs none.
Writes keep the shared limits.
"""

import math
import time

from flask import current_app, request
from limits import parse

from .errors import ApiError
from .extensions import limiter

# Limited here (board reads) or by the cap on open streams per address (streams).
LIMITED_ELSEWHERE = frozenset({"api.top_scores", "stream.scores_stream"})


class ReadLimiter:
    def __init__(self, rate: str):
        limit = parse(rate)  # the same syntax as RATELIMIT_IP's other uses: "600/minute"
        self.amount, self.period = limit.amount, limit.get_expiry()
        self._window = 0
        self._counts = {}  # address -> reads in the current window

    def check(self, address: str) -> None:
        """Count one read by ``address``; 429 with Retry-After past the limit."""
        now = time.time()
        window = int(now // self.period)
        if window != self._window:
            self._window, self._counts = window, {}
        count = self._counts[address] = self._counts.get(address, 0) + 1
        if count > self.amount:
            raise ApiError(429, retry_after=max(1, math.ceil((window + 1) * self.period - now)))


def count_read() -> None:
    current_app.extensions["scoreboard.read_limiter"].check(request.remote_addr or "")


def init_app(app) -> None:
    """Flask-Limiter checks every request in a before_request hook, and even for an exempt or
    filtered route that check costs more than a read from memory: skip it for the routes
    limited elsewhere. Call after limiter.init_app."""
    hooks = app.before_request_funcs[None]
    check = hooks[hooks.index(limiter._check_request_limit)]

    def check_unless_limited_elsewhere():
        if request.endpoint not in LIMITED_ELSEWHERE:
            check()

    hooks[hooks.index(check)] = check_unless_limited_elsewhere
