"""/metrics, which sums every worker of the instance (the series are core/meters.py), and
the WSGI layer that counts and times every request.

Without ``PROMETHEUS_MULTIPROC_DIR`` (the Flask test client, the CLI) the figures are this
process's own.
"""

from time import perf_counter

from flask import Request
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from sqlalchemy import event

from ..core.meters import (
    DB_POOL_IN_USE,
    HTTP_DURATION,
    HTTP_REQUESTS,
    MULTIPROCESS,
    REDIS_UP,
    REGISTRY,
)
from ..data.db import db

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
ROUTE = "scoreboard.route"  # the environ key that names a request's route for the count
UNMATCHED = "unmatched"  # a request no route took (404, 405)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_KEY = "scoreboard.metrics"


def exposition(app) -> bytes:
    """The scrape: this worker's figures brought up to date, then every worker's summed."""
    store, publishers = app.extensions[_KEY]
    REDIS_UP.set(store is not None and store.answers())
    for publish in publishers:
        publish()
    if not MULTIPROCESS:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry)


class RequestMetrics:
    """WSGI middleware outside every other layer of the app, so that it also counts and
    times the reads answered below Flask (web/reads.py)."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app
        self._series = {}  # (route, method, status) -> its counter and histogram

    def __call__(self, environ, start_response):
        began = perf_counter()
        status = "500"  # what the client gets if the app raises before it answers

        def start(line, headers, exc_info=None):
            nonlocal status
            status = line[:3]
            return start_response(line, headers, exc_info)

        try:
            return self.wsgi_app(environ, start)
        finally:
            method = environ.get("REQUEST_METHOD")
            key = (environ.get(ROUTE, UNMATCHED), method if method in METHODS else "other",
                   status)
            series = self._series.get(key)
            if series is None:  # a label look-up costs more than the writes themselves
                series = self._series[key] = (HTTP_REQUESTS.labels(*key),
                                              HTTP_DURATION.labels(key[0]))
            series[0].inc()
            series[1].observe(perf_counter() - began)


class NamedRequest(Request):
    """Flask's request, naming its route in the environ for RequestMetrics as Flask matches
    it: before any hook, so a refused request is named too, and at no hook's cost."""

    @property
    def url_rule(self):
        return self.__dict__.get("url_rule")

    @url_rule.setter
    def url_rule(self, rule):
        self.__dict__["url_rule"] = rule
        if rule is not None:
            self.environ[ROUTE] = rule.rule


def init_app(app, store, publishers) -> None:
    """Call after db.init_app. Names each request's route for RequestMetrics and counts the
    database connections in use. A scrape asks ``store`` (None without Redis) whether it
    answers, and first calls each of ``publishers`` to bring its figures up to date."""
    app.extensions[_KEY] = (store, tuple(publishers))
    # Multiprocess mode has no *_created series: leave them out in one process too, so that
    # /metrics reads the same either way (prometheus_client asks at each collection).
    disable_created_metrics()
    app.request_class = NamedRequest
    with app.app_context():
        for engine in db.engines.values():
            event.listen(engine, "checkout", lambda *_: DB_POOL_IN_USE.inc())
            event.listen(engine, "checkin", lambda *_: DB_POOL_IN_USE.dec())
