"""Liveness and readiness probes for the platform's router and deploy checks."""

from flask import Response, current_app, jsonify
from sqlalchemy import text

from ..adapters.redis_port import StoreUnavailable
from ..boards.ports import ports
from ..boards.views import GLOBAL
from ..data import reconnect
from ..data.db import reading
from . import metrics

bp = reconnect.Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process answers; says nothing about its dependencies."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """Ready when the database answers; a Redis outage only degrades, so it is reported."""
    with reading() as session:
        session.execute(text("SELECT 1"))
    redis = "embedded"
    if current_app.config.get("REDIS_URL"):
        try:
            ports().cache.get_top(GLOBAL)
            redis = "ok"
        except StoreUnavailable:
            redis = "unavailable"
    if redis == "unavailable":
        return jsonify(status="degraded", database="ok", redis=redis)
    return jsonify(status="ok", database="ok", redis=redis)


@bp.get("/metrics")
def prometheus_metrics():
    """Prometheus text format, summed over this instance's workers (see metrics.py)."""
    return Response(metrics.exposition(current_app), content_type=metrics.CONTENT_TYPE)
