"""One error shape for the whole service: {"success": false, "error": "..."}."""


from flask import jsonify
from werkzeug.exceptions import HTTPException

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
