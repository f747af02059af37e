"""How the app reads and answers JSON: a parser that refuses what nothing here could use,
and the one error shape (core/errors.py) for every failure, whoever raised it."""

import logging
import re
import time

from flask.json.provider import DefaultJSONProvider
from flask_limiter import RateLimitExceeded
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, InternalServerError

from ..core.errors import ApiError, error_response
from . import gate

log = logging.getLogger(__name__)


class StrictJSON(DefaultJSONProvider):
    """Flask's JSON, whose parse of a request body also refuses, as malformed JSON (a
    ValueError, so a 400 wherever a body is read), what Python's parser lets through but
    nothing here could use: nesting past the parser's recursion limit (its RecursionError
    would escape Flask's ``silent=True``), and strings holding an unpaired surrogate, which
    I-JSON (RFC 7493) forbids and which neither database can store. Set as ``app.json``."""

    def loads(self, s, **kwargs):
        try:
            value = super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None
        if _may_hold_surrogate(s) and _holds_surrogate(value):
            raise ValueError("JSON string with an unpaired surrogate")
        return value


SURROGATE = re.compile(r"[\ud800-\udfff]")


def _may_hold_surrogate(text: str | bytes) -> bool:
    """Whether ``text`` may parse to a surrogate: only through a ``\\u`` escape, or if it is
    not ASCII (bytes may encode one). Most bodies are neither, and are not walked."""
    return not text.isascii() or (b"\\u" if isinstance(text, bytes) else "\\u") in text


def _holds_surrogate(value) -> bool:
    """Whether any string in ``value`` (keys too) holds a surrogate; a loop, not recursion,
    as the value may be nested nearly as deep as the parser goes."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if not item.isascii() and SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False



def _handle_http(exc: HTTPException):
    mine = isinstance(exc, ApiError)
    response = error_response(exc.code or 500, exc.description if mine else None,
                              exc.error_code if mine else None)
    if isinstance(exc, RateLimitExceeded):
        response.headers["Retry-After"] = str(_seconds_to_reset())
    elif getattr(exc, "retry_after", None):
        response.headers["Retry-After"] = str(exc.retry_after)
    if exc.code == 405 and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


def _seconds_to_reset() -> int:
    limit = gate.limiter().current_limit
    return max(1, int(limit.reset_at - time.time()) + 1) if limit else 60


def _handle_database(exc: OperationalError | PoolTimeout):
    # OperationalError is the driver's word for "could not talk to the server" (or it gave
    # up waiting on a lock or a statement); PoolTimeout means every connection is busy.
    log.error("database unavailable: %s", getattr(exc, "orig", exc))
    return error_response(503, "Database unavailable. Try again shortly.")


def _handle_unexpected(exc: Exception):
    log.exception("unhandled error", exc_info=exc)
    return error_response(500)


def init_app(app) -> None:
    app.register_error_handler(HTTPException, _handle_http)
    app.register_error_handler(OperationalError, _handle_database)
    app.register_error_handler(PoolTimeout, _handle_database)
    app.register_error_handler(InternalServerError, _handle_http)
    app.register_error_handler(Exception, _handle_unexpected)
