"""GET /api/scores/stream: the board as Server-Sent Events, fed by this worker's hub."""

import math
import random
import socket
import time

import gevent
from flask import Blueprint, Response, current_app, request
from gevent import monkey

from . import clock, leaderboard
from .api import asked_view
from .errors import ApiError
from .services import services

bp = Blueprint("stream", __name__)

HEADERS = {
    "Cache-Control": "no-store",
    "X-Accel-Buffering": "no",  # tell nginx-style proxies not to buffer the stream
}


@bp.get("/api/scores/stream")  # the per-IP cap on open streams limits it (see api.py)
def scores_stream():
    sock = request.environ.get("gunicorn.socket")
    if sock is None or not monkey.is_module_patched("socket"):
        raise ApiError(503, "Streaming needs the gunicorn gevent worker; poll /api/scores/top.")
    view = asked_view(token_locations=("headers", "query_string", "cookies"))
    config = current_app.config
    hub = services().hub
    hub.start()
    # gunicorn frames a body of unknown length in chunks for HTTP/1.1 (not for HEAD).
    chunked = request.environ.get("SERVER_PROTOCOL") == "HTTP/1.1"
    client = hub.admit(sock, chunked, request.remote_addr, config["STREAM_MAX_PER_IP"])
    if client is None:
        if hub.stopping:
            raise ApiError(503, "Server is restarting; reconnect shortly.")
        # Another may close by the time the browser's reconnect comes.
        raise ApiError(429, "Too many open streams from this address.",
                       retry_after=math.ceil(config["STREAM_RETRY_MS"] / 1000))
    # Jitter spreads reconnections after a deploy; the lifetime cap rebalances load.
    retry_ms = int(config["STREAM_RETRY_MS"] * random.uniform(1.0, 1.5))
    first = f"retry: {retry_ms}\n\n".encode()
    channel = hub.channel(view.key, lambda: leaderboard.current_snapshot(view))
    version, frames = channel.version, channel.frames
    if frames and request.headers.get("Last-Event-ID") != str(version):
        first += frames[1]
    # A stream ends when its view closes (its window, or the token that opened a group's
    # board), so the browser reconnects to the next one.
    lifetime = min(config["STREAM_LIFETIME_SECONDS"] * random.uniform(0.8, 1.0),
                   max(0.0, view.seconds_left(clock.now())))
    events = _events(hub, channel, client, first, version, time.monotonic() + lifetime)
    response = Response(events, mimetype="text/event-stream", headers=HEADERS)
    # Runs however the response ends, even when its body is never read (HEAD). A stream that
    # ends also ends its connection: the browser's reconnect then opens a new one (which may
    # land on another worker), and a stopping worker does not wait for a keep-alive request.
    response.call_on_close(lambda: _release(hub, channel, client))
    return response


def _release(hub, channel, client) -> None:
    client.closed = True
    hub.leave(channel, client)
    try:
        client.sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already gone


def _events(hub, channel, client, first: bytes, version: int, deadline: float):
    """Yield the first bytes through gunicorn, then park: the hub writes to the socket, and
    this greenlet wakes only to finish writes the socket could not take at once."""
    try:
        yield first
        hub.join(channel, client, version)
        while not client.closed and time.monotonic() < deadline:
            client.wake.wait(timeout=deadline - time.monotonic())
            client.wake.clear()
            if client.busy:
                client.drain(hub.write_timeout)
        if client.busy and not client.closed:
            client.drain(hub.write_timeout)  # never end the body inside a frame
    except (OSError, gevent.Timeout):
        pass  # the browser went away or stopped reading
    finally:
        if client.busy:
            # Mid-frame (stopped, reaped or timed out): cut the connection now, so gunicorn's
            # closing chunk neither corrupts the body nor blocks on a peer that never reads.
            _release(hub, channel, client)
