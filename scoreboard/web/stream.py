"""GET /api/scores/stream: the route that opens a stream of a board (live/sse.py)."""

import math

from flask import Response, current_app, request

from ..boards import leaderboard
from ..core.errors import ApiError
from ..data import reconnect
from ..live import HEADERS, MIMETYPE, can_stream, current_hub, open_stream
from .api import asked_view

bp = reconnect.Blueprint("stream", __name__)


@bp.get("/api/scores/stream")  # the per-IP cap on open streams limits it (see api.py)
def scores_stream():
    # The request's own mistakes first: they are the client's to fix, whatever serves it.
    view = asked_view(token_locations=("headers", "query_string", "cookies"))
    if not can_stream(request.environ):
        raise ApiError(503, "Streaming needs the gunicorn gevent worker; poll /api/scores/top.")
    hub = current_hub()
    body = open_stream(request.environ, view, leaderboard.fresh_snapshot(view),
                       current_app.config, hub)
    if body is None:
        if hub.stopping:
            raise ApiError(503, "Server is restarting; reconnect shortly.")
        # Another may close by the time the browser's reconnect comes.
        raise ApiError(429, "Too many open streams from this address.",
                       retry_after=math.ceil(current_app.config["STREAM_RETRY_MS"] / 1000))
    return Response(body, mimetype=MIMETYPE, headers=HEADERS)
