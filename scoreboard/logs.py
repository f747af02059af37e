"""Structured logs: one JSON object a line on stderr, with the request id when there is one."""

import json
import logging
import os
import re
import sys
import time

from flask import g, has_request_context


REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def request_id(given: str) -> str:
    """The id a request is logged and answered under: the caller's X-Request-ID when it is
    sane, else a new one (as random as a uuid4's hex, for less work)."""
    return given if REQUEST_ID.fullmatch(given) else os.urandom(16).hex()


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if has_request_context() and "request_id" in g:
            entry["request_id"] = g.request_id
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
