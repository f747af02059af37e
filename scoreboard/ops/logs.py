"""Structured logs: one JSON object a line on stderr, with the request id when there is one."""

import json
import logging
import os
import re
import sys
import time

from flask import has_request_context, request

REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
ENVIRON_KEY = "scoreboard.request_id"


def request_id(given: str) -> str:
    """The id a request is logged and answered under: the caller's X-Request-ID when it is
    sane, else a new one (as random as a uuid4's hex, for less work)."""
    return given if REQUEST_ID.fullmatch(given) else os.urandom(16).hex()


def current_request_id(asked=None) -> str | None:
    """The id of the request being handled (``asked``, when the caller holds it), if any."""
    if asked is not None:
        return asked.environ.get(ENVIRON_KEY)
    return request.environ.get(ENVIRON_KEY) if has_request_context() else None


class RequestIds:
    """WSGI middleware giving every request its id, kept in its environ (for the logs and
    the audit) and sent back as X-Request-ID: the reads answered below Flask too, and for a
    request Flask answers, at less cost than a pair of Flask hooks."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        given = environ[ENVIRON_KEY] = request_id(environ.get("HTTP_X_REQUEST_ID", ""))

        def start(status, headers, exc_info=None):
            return start_response(status, [*headers, ("X-Request-ID", given)], exc_info)

        return self.wsgi_app(environ, start)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        given = current_request_id()
        if given:
            entry["request_id"] = given
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def init_app(app) -> None:
    """Send the service's own logs to stderr once per process, whatever else is configured."""
    logger = logging.getLogger("scoreboard")
    if not any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
    logger.setLevel(app.config["LOG_LEVEL"])
