"""Logs are JSON lines that carry the request id."""

import json
import logging

from scoreboard.ops.logs import ENVIRON_KEY, JsonFormatter


def test_log_line_is_json_with_request_id(app):
    record = logging.LogRecord("scoreboard.x", logging.INFO, __file__, 1, "hello %s", ("you",),
                               None)
    with app.test_request_context("/", environ_overrides={ENVIRON_KEY: "abc123"}):
        line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "hello you" and line["request_id"] == "abc123"
    assert line["level"] == "info" and line["time"].endswith("Z")
    outside = json.loads(JsonFormatter().format(record))
    assert "request_id" not in outside


def test_request_id_is_echoed_or_made(client):
    assert client.get("/healthz", headers={"X-Request-ID": "trace-1"}).headers[
        "X-Request-ID"] == "trace-1"
    made = client.get("/healthz", headers={"X-Request-ID": "bad id!"}).headers["X-Request-ID"]
    assert made != "bad id!" and len(made) == 32
