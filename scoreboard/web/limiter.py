"""Flask-Limiter, one per app: the per-address limit on every route that the write gate and
the board reads (gate.py) do not count themselves. It keeps its own hooks; ``leave_alone``,
its request filter, names the requests it does not count."""

from collections.abc import Callable

from flask import Flask, current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

_KEY = "scoreboard.limiter"


def init_app(app: Flask, leave_alone: Callable[[], bool]) -> Limiter:
    limiter = Limiter(get_remote_address, default_limits=[app.config["RATELIMIT_IP"]])
    limiter.request_filter(leave_alone)
    limiter.init_app(app)
    app.extensions[_KEY] = limiter
    return limiter


def of(app: Flask | None = None) -> Limiter:
    return (app or current_app).extensions[_KEY]
