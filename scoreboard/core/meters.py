"""The service's metric series: what each worker counts, defined once, low in the tree, so
that every package may count without importing the exposition (ops/metrics.py), which needs
the app.

Under gunicorn, prometheus_client runs in its multiprocess mode: each worker writes its
figures to memory-mapped files in ``PROMETHEUS_MULTIPROC_DIR`` (gunicorn.conf.py gives every
start a clean one) and a scrape adds them up. The variable must be set before
prometheus_client is first imported, as the library picks its mode then.

A gauge says how the workers' values combine; the ``live`` modes forget a worker once it has
exited. Label values are bounded: a route's template, never its path; a known method or
``other``; the outcomes listed in README.md; redis-py's exception classes.
"""

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

MULTIPROCESS = "PROMETHEUS_MULTIPROC_DIR" in os.environ  # as prometheus_client decides it

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
    "scoreboard_db_pool_in_use", "Database connections of the workers' pools that a request "
    "holds (one kept between a write's statements counts as back in its pool).",
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
JWKS_FETCHES = Counter(
    "scoreboard_jwks_fetches", "Fetches of the identity provider's keys (JWT_JWKS_URL), by "
    "outcome: ok; unreachable (no answer in time, a connection or HTTP error); invalid (an "
    "answer holding no usable signing key).", ["outcome"], registry=REGISTRY)


_UPDATE_SERIES = {}  # outcome -> its series: a label look-up costs more than the count


def count_update(outcome: str) -> None:
    series = _UPDATE_SERIES.get(outcome)
    if series is None:
        series = _UPDATE_SERIES[outcome] = SCORE_UPDATES.labels(outcome)
    series.inc()
