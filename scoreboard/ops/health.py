"""Liveness and readiness probes for the platform's router and deploy checks."""

from flask import Response, current_app, jsonify
from sqlalchemy import text

from ..adapters.redis_port import StoreUnavailable
from ..boards.ports import ports
from ..boards.views import GLOBAL
from ..core.errors import ApiError
from ..data import reconnect
from ..data.db import reading
from ..identity import STALE, UNAVAILABLE, signing_keys_status
from . import metrics

bp = reconnect.Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process answers; says nothing about its dependencies."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """Ready when the database answers and, with JWT_JWKS_URL, the identity provider's keys
    were fetched once: a worker without them could verify no token. A Redis outage, or a
    provider that stopped answering while its keys are held, only degrades, so it is
    reported."""
    with reading() as session:
        session.execute(text("SELECT 1"))
    redis = "embedded"
    if current_app.config.get("REDIS_URL"):
        try:
            ports().cache.get_top(GLOBAL)
            redis = "ok"
        except StoreUnavailable:
            redis = "unavailable"
    reply = {"database": "ok", "redis": redis}
    jwks = signing_keys_status()
    if jwks == UNAVAILABLE:
        raise ApiError(503, "Not ready: no signing key could be fetched from JWT_JWKS_URL yet.")
    if jwks is not None:
        reply["jwks"] = jwks
    degraded = redis == "unavailable" or jwks == STALE
    return jsonify(status="degraded" if degraded else "ok", **reply)


@bp.get("/metrics")
def prometheus_metrics():
    """Prometheus text format, summed over this instance's workers (see metrics.py)."""
    return Response(metrics.exposition(current_app), content_type=metrics.CONTENT_TYPE)
