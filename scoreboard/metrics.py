"""Prometheus metrics: what each worker counts, and /metrics, which sums every worker of the
instance.

Under gunicorn, prometheus_client runs in its multiprocess mode: each worker writes its
figures to memory-mapped files in ``PROMETHEUS_MULTIPROC_DIR`` (gunicorn.conf.py gives every
start a clean one) and a scrape adds them up, whichever worker answers it. The variable must
be set before prometheus_client is first imported, as the library picks its mode then.
Without it (the Flask test client, the CLI) the figures are this process's own.

A gauge says how the workers' values combine; the ``live`` modes forget a worker once it has
exited. Label values are bounded: a route's template, never its path; a known method or
``other``; the outcomes listed in README.md; redis-py's exception classes.
"""

import os
from time import perf_counter

from flask import Request
from prometheus_client import (CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, Counter, Gauge,
                               Histogram, disable_created_metrics, generate_latest,
                               multiprocess)
from sqlalchemy import event

from .extensions import db
from .services import services

MULTIPROCESS = "PROMETHEUS_MULTIPROC_DIR" in os.environ  # as prometheus_client decides it
# Multiprocess mode has no *_created series: leave them out in one process too, so that
# /metrics reads the same either way.
disable_created_metrics()
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
ROUTE = "scoreboard.route"  # the environ key that names a request's route for the count
UNMATCHED = "unmatched"  # a request no route took (404, 405)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# Ours alone: the default registry's process and GC collectors cannot be summed across
# workers, and a scrape in multiprocess mode reads the files instead of any registry.
REGISTRY = CollectorRegistry()

HTTP_REQUESTS = Counter(
    "scoreboard_http_requests", "Requests answered, by route template, method and status.",
    ["route", "method", "status"], registry=REGISTRY)
HTTP_DURATION = Histogram(
    "scoreboard_http_request_duration_seconds",
    "Time until a reply's status and headers were ready (a stream's body is not timed).",
    ["route"], registry=REGISTRY,
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
SCORE_UPDATES = Counter(
    "scoreboard_score_updates", "Score update attempts, by outcome.", ["outcome"],
    registry=REGISTRY)
DB_POOL_IN_USE = Gauge(
    "scoreboard_db_pool_in_use", "Database connections checked out of the workers' pools.",
    multiprocess_mode="livesum", registry=REGISTRY)
# Measured by whichever worker answers the scrape: the newest reading is the one to report.
REDIS_UP = Gauge(
    "scoreboard_redis_up", "1 when Redis answered a PING at this scrape, 0 when it did not "
    "or none is configured.", multiprocess_mode="livemostrecent", registry=REGISTRY)
# A bug, not an outage (store.py): each failed its request alone, and was logged.
REDIS_ERRORS = Counter(
    "scoreboard_redis_errors", "Redis commands refused for a bad argument or with an error "
    "reply, by redis-py's exception class (an outage is not counted here).", ["kind"],
    registry=REGISTRY)

STREAM_CLIENTS = Gauge(
    "scoreboard_stream_clients", "Open streams.", multiprocess_mode="livesum",
    registry=REGISTRY)
STREAM_CLIENTS_BLOCKED = Gauge(
    "scoreboard_stream_clients_blocked", "Open streams whose socket could not take a frame.",
    multiprocess_mode="livesum", registry=REGISTRY)
STREAM_CHANNELS = Gauge(
    "scoreboard_stream_channels", "Views that some stream watches, counted per worker.",
    multiprocess_mode="livesum", registry=REGISTRY)
STREAM_BROADCASTS = Counter(
    "scoreboard_stream_broadcasts", "Frames and heartbeats sent to a view's streams.",
    registry=REGISTRY)
# The least over the workers: 0 as soon as any worker misses notices, whatever the others do.
STREAM_BROKER_SUBSCRIBED = Gauge(
    "scoreboard_stream_broker_subscribed",
    "1 when every worker holds its subscription to change notices.",
    multiprocess_mode="livemin", registry=REGISTRY)
BOARD_REFRESHES_DUE = Gauge(
    "scoreboard_board_refreshes_due", "Boards the workers hold that a newer version awaits.",
    multiprocess_mode="livesum", registry=REGISTRY)


def count_update(outcome: str) -> None:
    SCORE_UPDATES.labels(outcome).inc()


def exposition(app) -> bytes:
    """The scrape: this worker's figures brought up to date, then every worker's summed."""
    store = services(app).redis
    REDIS_UP.set(store is not None and store.answers())
    services(app).hub.publish()
    services(app).refresher.publish()
    if not MULTIPROCESS:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry)


class RequestMetrics:
    """WSGI middleware outside every other layer of the app, so that it also counts and
    times the reads answered below Flask (board_reads.py)."""

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


def init_app(app) -> None:
    """Call after db.init_app. Names each request's route for RequestMetrics and counts the
    database connections in use."""
    app.request_class = NamedRequest
    with app.app_context():
        for engine in db.engines.values():
            event.listen(engine, "checkout", lambda *_: DB_POOL_IN_USE.inc())
            event.listen(engine, "checkin", lambda *_: DB_POOL_IN_USE.dec())
