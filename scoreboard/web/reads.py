"""The reply of GET /api/scores/top, and the WSGI layer that serves reads from this
worker's memory below Flask.

A board read is the service's hottest request, and once the worker holds the board in
memory it is a lookup: Flask's request machinery (contexts, routing, hooks) then costs more
than everything else the read does. So a read of an all-time board (everyone's, or a
region's) that this worker holds, and that no write announced since can be missing from
(leaderboard.fresh_held), is answered here, with the same reply and limits as the route's
(and, as every reply, its request id: logs.RequestIds). Anything else (another view, a
board not held or overtaken, a bad parameter, an address over its limit) goes on to Flask,
whose route brings the board or says what is wrong.

Stream opens are the same case: a stream of a public view whose board this worker holds
fresh is opened here (sse.open_stream, as the route opens it), which measured at about a
third of an open's CPU. A group's stream (it needs a token), one asked with a ticket or a
token, a view not held fresh, a bad parameter or a refused open goes on to the route.

While CORS_ORIGINS lists any origin, a read that carries an Origin header goes on to Flask
too, where Flask-CORS decides its grant: the grant is then Flask-CORS's own, made in one
place, rather than a second rendering of its rules here (its header logic is not public
API). Browsers send Origin on cross-origin reads only, so the board page's own reads and
other same-origin clients keep this path, for one look-up more.
"""

from urllib.parse import parse_qsl

from werkzeug.http import parse_etags

from ..boards import leaderboard, views
from ..boards.leaderboard import SNAPSHOT_SIZE
from ..boards.ports import ports
from ..core import clock, contract, periods
from ..core.errors import ApiError
from ..live import sse
from ..ops import metrics
from . import cors

TOP = "/api/scores/top"
STREAM = "/api/scores/stream"
STATUS = {200: "200 OK", 304: "304 NOT MODIFIED"}
STREAM_HEADERS = [("Content-Type", f"{sse.MIMETYPE}; charset=utf-8"),
                  *sse.HEADERS.items()]  # as Flask's Response makes them for the route
LIMIT = contract.Whole(1, SNAPSHOT_SIZE, default=10)


def page_size(args) -> int:
    """The rows /top asks for: ``limit``, 10 by default, at most a whole snapshot."""
    limit = args.get("limit")
    return LIMIT.default if limit is None else contract.parsed("limit", LIMIT, limit)


def top_reply(view, snapshot, limit: int, if_none_match: str | None):
    """(status, headers, body) of /top: ``limit`` rows of ``snapshot``, or 304 when the
    client's ETag is current."""
    etag = f"{view.key}~{snapshot.etag(limit)}"
    headers = [("ETag", f'"{etag}"'), ("Cache-Control", "no-cache")]
    # Not werkzeug's make_conditional: it also weighs dates and ranges, which cost more than
    # the rest of this read, and a board has neither.
    if if_none_match and parse_etags(if_none_match).contains_weak(etag):
        return 304, headers, b""
    return 200, [("Content-Type", "application/json"), *headers], snapshot.encoded(limit)


class BoardReads:
    """WSGI middleware in front of the Flask app ``app``, counting reads on ``limits`` (the
    gate's) and opening streams on ``hub``."""

    def __init__(self, app, wsgi_app, limits, hub):
        self.app = app
        self.config = app.config
        self.limits, self.hub, self.boards = limits, hub, ports(app)
        self.wsgi_app = wsgi_app
        self.cross_origin = bool(app.config["CORS_ORIGINS"])
        self.vary = [cors.VARY] if self.cross_origin else []  # as cors.py adds to the route's

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO")
        if (path in (TOP, STREAM) and environ.get("REQUEST_METHOD") == "GET"
                and not (self.cross_origin and "HTTP_ORIGIN" in environ)):
            if path == TOP:
                reply = self._from_memory(environ)
            else:
                reply = self._open_stream(environ)
            if reply is not None:
                environ[metrics.ROUTE] = path
                status, headers, body = reply
                start_response(STATUS[status], [*headers, *self.vary])
                return body
        return self.wsgi_app(environ, start_response)

    def _from_memory(self, environ):
        args = _args(environ)
        if not args.keys() <= {"limit", "region", "period"} or args.get("period", "all") != "all":
            return None
        try:
            limit = page_size(args)
            view = views.parse(args, None, self.config)  # an all-time view: no clock needed
        except ValueError:
            return None
        snapshot = self._fresh(view.key)
        if snapshot is None:
            return None
        try:
            self.limits.count_locally("RATELIMIT_IP", environ.get("REMOTE_ADDR") or "")
        except ApiError:
            return None  # over the limit: the route counts it too, and answers the 429
        status, headers, body = top_reply(view, snapshot, limit,
                                          environ.get("HTTP_IF_NONE_MATCH"))
        if body:  # a 304 has none, and must not claim a length of 0
            headers = [*headers, ("Content-Length", str(len(body)))]
        return status, headers, [body]

    def _open_stream(self, environ):
        args = _args(environ)
        if not sse.can_stream(environ) or args.keys() & {"ticket", "token"}:
            return None  # the route checks a ticket, and refuses a token
        try:
            view = views.parse(args, clock.now(self.config), self.config)
        except (ValueError, periods.NoSuchWindow):
            return None
        if view.group:
            return None
        snapshot = self._fresh(view.key)
        if snapshot is None:
            return None
        body = sse.open_stream(environ, view, snapshot, self.config, self.hub)
        return None if body is None else (200, STREAM_HEADERS, body)

    def _fresh(self, key: str):
        """This worker's copy of the view, when it is fresh (leaderboard.fresh_held)."""
        return leaderboard.fresh_held(self.boards, key, self._database_version)[0]

    def _database_version(self) -> int:
        with self.app.app_context():
            return leaderboard.database_version()


def _args(environ) -> dict:
    """The query string's arguments: the first of repeated names, as Flask's args.get."""
    args = {}
    for name, value in parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True):
        args.setdefault(name, value)
    return args
