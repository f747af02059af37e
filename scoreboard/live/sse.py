"""A board as Server-Sent Events, fed by this worker's hub: the body of a stream, from its
first frame to its close."""

import random
import socket
import time

import gevent
from gevent import monkey

from ..boards import leaderboard
from ..core import clock

MIMETYPE = "text/event-stream"
HEADERS = {
    "Cache-Control": "no-store",
    "X-Accel-Buffering": "no",  # tell nginx-style proxies not to buffer the stream
}


def can_stream(environ) -> bool:
    return environ.get("gunicorn.socket") is not None and monkey.is_module_patched("socket")


def open_stream(environ, view, snapshot, config, hub, viewer=None):
    """The body of a stream of ``view`` for the request ``environ`` (of a worker that
    ``can_stream``), starting from ``snapshot`` (fresh: leaderboard.fresh_snapshot), or
    None when the hub admits no more streams from its address. ``viewer``: who opened it,
    when that needed their identity (core/viewers.py), so that a notice can end it.
    Closing the body, however the response ends, releases its place."""
    hub.start()
    # gunicorn frames a body of unknown length in chunks for HTTP/1.1 (not for HEAD).
    chunked = environ.get("SERVER_PROTOCOL") == "HTTP/1.1"
    sock = environ["gunicorn.socket"]
    client = hub.admit(sock, chunked, environ.get("REMOTE_ADDR"), config["STREAM_MAX_PER_IP"],
                       viewer)
    if client is None:
        return None
    # Bounded, a browser that stops reading holds little of the kernel's memory, and the
    # hub finds it full (and sends it only the newest frame) within a few frames.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, config["STREAM_SEND_BUFFER_BYTES"])
    # Jitter spreads reconnections after a deploy; the lifetime cap rebalances load.
    retry_ms = int(config["STREAM_RETRY_MS"] * random.uniform(1.0, 1.5))
    first = f"retry: {retry_ms}\n\n".encode()
    channel = hub.channel(view.key, lambda: leaderboard.current_snapshot(view), snapshot)
    version = snapshot.version
    if environ.get("HTTP_LAST_EVENT_ID") != str(version):
        first += snapshot.sse_frame
    # A stream ends when its view closes (its window, or the token that opened a group's
    # board), so the browser reconnects to the next one; or when a notice ends its viewer's
    # streams (Hub.end_streams).
    lifetime = min(config["STREAM_LIFETIME_SECONDS"] * random.uniform(0.8, 1.0),
                   max(0.0, view.seconds_left(clock.now(config))))
    events = _events(hub, channel, client, first, version, time.monotonic() + lifetime)
    return StreamBody(events, lambda: _release(hub, channel, client))


class StreamBody:
    """A stream's events, with what releases its client when the server closes it. A
    stream that ends also ends its connection: the browser's reconnect then opens a new one
    (which may land on another worker), and a stopping worker does not wait for a
    keep-alive request."""

    def __init__(self, events, release):
        self.events = events
        self.release = release

    def __iter__(self):
        return self.events

    def close(self) -> None:  # the WSGI server calls it, even when the body is never read
        self.events.close()
        self.release()


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
