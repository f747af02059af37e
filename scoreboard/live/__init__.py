"""Live boards: the per-worker hub that fans each change out to its streams (hub.py), and a
stream's body from its first frame to its close (sse.py)."""

from flask import Flask, current_app

from .hub import Hub
from .sse import HEADERS, MIMETYPE, can_stream, open_stream

__all__ = ["HEADERS", "MIMETYPE", "Hub", "can_stream", "current_hub", "init_app",
           "open_stream"]

_KEY = "scoreboard.hub"


def init_app(app: Flask, hub: Hub) -> None:
    app.extensions[_KEY] = hub


def current_hub(app: Flask | None = None) -> Hub:
    """This worker's hub for the current app, or for ``app`` where there is no context."""
    return (app or current_app).extensions[_KEY]
