"""Streams of the boards: POST /api/streams/tickets hands a player a ticket that opens one
view's stream once, and GET /api/scores/stream opens it (live/sse.py).

A token in a URL is written to access logs, a platform's router logs and proxies' logs, and
a token can act for its player; yet EventSource sends no headers. So a stream that needs
the player's identity (a group's board: members only) is opened with a ticket instead:
unguessable, good once and for STREAM_TICKET_SECONDS, bound to the player, the token that
asked for it and the view. Whether the player may watch (the token not revoked, the player
not banned, and in the group) is checked when the ticket is issued and again when it is
used; a revocation, a ban or the player's removal from the group later ends the stream
(core/viewers.py). A page of this origin may send the token as the ``scoreboard_token``
cookie instead, and a client that can send headers as ``Authorization: Bearer``.
"""

import json
import math
import time

from flask import Response, current_app, jsonify, request

from .. import identity
from ..adapters.redis_port import StoreUnavailable
from ..boards import leaderboard, views
from ..core import clock
from ..core.contract import Body, Query, Text
from ..core.errors import ApiError, BadRequest, Forbidden
from ..core.viewers import Viewer
from ..data import reconnect
from ..data.db import reading
from ..identity.tokens import EXPIRED
from ..live import HEADERS, MIMETYPE, can_stream, current_hub, open_stream
from ..play import groups, moderation
from .api import from_timestamp, query

bp = reconnect.Blueprint("stream", __name__)
_KEY = "scoreboard.stream_tickets"

TICKET = Text(r"[A-Za-z0-9_-]{43}", message="must be a ticket from POST /api/streams/tickets",
              description="a ticket from POST /api/streams/tickets for this view: opens "
                          "one stream, once")
STREAM_QUERY = Query(ticket=TICKET)
TOKEN_IN_URL = ("A token in a URL is refused, as logs keep URLs: POST /api/streams/tickets "
                "with the token in the Authorization header, then open the stream with "
                "?ticket=.")
TICKET_REFUSED = "Unknown, used or expired stream ticket: ask for a new one."


class ViewBody(Body):
    """The view parameters as a JSON object, each a string (views.parse checks the rest,
    as it checks a query string's): the body of a ticket's request. Its schema is the view
    parameters', which says how they depend on each other."""

    def __init__(self):
        super().__init__({}, dict.fromkeys(("period", "at", "region", "group"),
                                           Text(r"[\s\S]*")))

    def schema(self, config) -> dict:
        return views.query_schema(config)


TICKET_BODY = ViewBody()


def init_app(app, tickets) -> None:
    """Serve the streams, with ``tickets`` (adapters/stream_tickets.py) to keep tickets in."""
    app.extensions[_KEY] = tickets
    app.register_blueprint(bp)


@bp.post("/api/streams/tickets")
def issue_ticket():
    asked = TICKET_BODY.read()
    view = query(views.parse, clock.now(), current_app.config, given=asked)
    claims = identity.authenticate(locations=["headers"])
    seconds = current_app.config["STREAM_TICKET_SECONDS"]
    return jsonify(ticket=issue(claims, view, seconds), expiresIn=seconds), 201


@bp.get("/api/scores/stream")  # the per-IP cap on open streams limits it (see api.py)
def scores_stream():
    # The request's own mistakes first: they are the client's to fix, whatever serves it.
    if "token" in request.args:
        raise BadRequest(TOKEN_IN_URL)
    since = time.monotonic()  # before any credential is checked (Viewer.since)
    view = query(views.parse, clock.now(), current_app.config)
    ticket = query(STREAM_QUERY.read).get("ticket")
    viewer = None
    if ticket is not None:
        view, viewer = redeem(ticket, view, since)
    elif view.group:
        claims = identity.authenticate(locations=["headers", "cookies"])
        view, viewer = _watching(claims["sub"], claims.get("jti"), claims["exp"], view, since)
    if not can_stream(request.environ):
        raise ApiError(503, "Streaming needs the gunicorn gevent worker; poll /api/scores/top.")
    hub = current_hub()
    body = open_stream(request.environ, view, leaderboard.fresh_snapshot(view),
                       current_app.config, hub, viewer)
    if body is None:
        if hub.stopping:
            raise ApiError(503, "Server is restarting; reconnect shortly.")
        # Another may close by the time the browser's reconnect comes.
        raise ApiError(429, "Too many open streams from this address.", retry_after=_retry())
    return Response(body, mimetype=MIMETYPE, headers=HEADERS)


def issue(claims: dict, view: views.View, seconds: int) -> str:
    """A ticket for the token's player to open ``view``'s stream once within ``seconds``:
    403 for a banned player, and for a group's view 404 for an unknown group and 403 for a
    player not in it."""
    _may_watch(claims["sub"], view)
    record = {"sub": claims["sub"], "jti": claims.get("jti"), "exp": claims["exp"],
              "view": view.key}
    return _with_tickets(lambda tickets: tickets.issue(json.dumps(record), seconds))


def redeem(ticket: str, view: views.View, since: float) -> tuple[views.View, Viewer]:
    """Spend ``ticket`` on a stream of ``view``: the view, closing when the ticket's token
    expires, and its viewer. 401 for a ticket unknown, spent or expired, or whose token has
    expired or been revoked since; 403 for another view's ticket; and what issue refuses."""
    record = _with_tickets(lambda tickets: tickets.take(ticket))
    if record is None:
        raise ApiError(401, TICKET_REFUSED)
    held = json.loads(record)
    if held["view"] != view.key:
        raise Forbidden("This ticket is for another view: ask for one for this view.")
    # Judged on the wall clock, with the leeway, as PyJWT judges the token itself.
    if held["exp"] <= time.time() - current_app.config["JWT_LEEWAY"]:
        raise ApiError(401, EXPIRED)
    if held["jti"] is not None and identity.is_revoked(held["jti"]):
        raise ApiError(401, identity.REVOKED)
    return _watching(held["sub"], held["jti"], held["exp"], view, since)


def _watching(user_id: str, jti, exp, view: views.View, since: float):
    """(the view, closing when the token does; its Viewer), if the player may watch it."""
    _may_watch(user_id, view)
    return view.closing_by(from_timestamp(exp)), Viewer(user_id, jti, view.group, since)


def _may_watch(user_id: str, view: views.View) -> None:
    with reading():
        moderation.refuse_banned(user_id)
    if view.group:
        groups.require_member(view.group, user_id)


def _with_tickets(act):
    """``act(tickets)``. Tickets live in Redis, where every worker of every instance finds
    them; while it is away none can be issued or taken (a ticket issued in one process
    could not be taken in another), so the client polls /api/scores/top meanwhile: 503,
    never a 500."""
    try:
        return act(current_app.extensions[_KEY])
    except StoreUnavailable:
        raise ApiError(503, "Stream tickets are unavailable for a moment; poll "
                            "/api/scores/top meanwhile.", retry_after=_retry()) from None


def _retry() -> int:
    return math.ceil(current_app.config["STREAM_RETRY_MS"] / 1000)
