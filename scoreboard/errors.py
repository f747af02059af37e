"""One error shape for the whole service: {"success": false, "error": "..."}."""

import logging
import time

from flask import jsonify
from flask_limiter import RateLimitExceeded
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, InternalServerError

from .extensions import limiter

log = logging.getLogger(__name__)

INVALID_REQUEST = "Invalid action or request format."
UNAUTHORIZED_UPDATE = "Unauthorized score update attempt."

# Werkzeug's descriptions are HTML-minded prose; these read better in an API.
_MESSAGES = {
    400: INVALID_REQUEST,
    401: "Authentication required.",
    403: UNAUTHORIZED_UPDATE,
    404: "Not found.",
    405: "Method not allowed.",
    413: "Request body too large.",
    415: "Content-Type must be application/json.",
    429: "Too many requests. Try again later.",
    500: "Internal server error.",
    503: "Service temporarily unavailable.",
}


class ApiError(HTTPException):
    """A domain error with its status and message, rendered by the one handler below."""

    def __init__(self, status: int, message: str | None = None, retry_after: int | None = None,
                 error_code: str | None = None):
        self.code = status
        self.retry_after = retry_after  # seconds, for a 429 or 503
        # The reply's stable machine ``code``, for an error a client may act on (a limit).
        self.error_code = error_code
        super().__init__(description=message or _MESSAGES.get(status))


class BadRequest(ApiError):
    def __init__(self, message: str = INVALID_REQUEST):
        super().__init__(400, message)


class Forbidden(ApiError):
    def __init__(self, message: str = UNAUTHORIZED_UPDATE):
        super().__init__(403, message)


def error_response(status: int, message: str | None = None, code: str | None = None):
    body = {"success": False, "error": message or _MESSAGES.get(status, "Error.")}
    if code is not None:
        body["code"] = code
    response = jsonify(body)
    response.status_code = status
    return response


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
    limit = limiter.current_limit
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
