"""The streams of a worker's hub (hub.py): each open stream's socket and what is owed to
it, and the streams opened by someone, found by the keys of the notices that end them."""

import time

import gevent
from gevent.event import Event

from ..core.viewers import Viewer

# How long a worker remembers a notice that ended streams, for a stream whose credentials
# were checked before the notice was heard but which joins its channel after it: the few
# moments from a ticket's check to the stream's first frame, with a wide margin.
ENDINGS_REMEMBERED_SECONDS = 60.0


class Client:
    """One open stream: its socket, what is still owed to it, and who watches it (a Viewer,
    for a stream that needed their identity; else None)."""

    __slots__ = ("sock", "chunked", "ip", "viewer", "wake", "pending", "newest", "busy",
                 "closed")

    def __init__(self, sock, chunked: bool, ip: str, viewer: Viewer | None = None):
        self.sock = sock
        self.chunked = chunked
        self.ip = ip
        self.viewer = viewer
        self.wake = Event()
        self.pending = b""  # the rest of a frame the socket took only part of
        self.newest = None  # the newest frame, to send after ``pending``
        self.busy = False  # its own greenlet is writing; the hub must not
        self.closed = False

    def frame(self, payload_chunked: bytes, payload_plain: bytes) -> bytes:
        return payload_chunked if self.chunked else payload_plain

    def offer(self, data: bytes, droppable: bool = False) -> bool:
        """Try to send ``data`` now without blocking; False when the client is gone. A busy
        client keeps only the newest frame, and has no use for a droppable heartbeat."""
        if self.busy:
            if not droppable:
                self.newest = data
            return True
        try:
            sent = self.sock.send(data, 0, 0.0)
        except BlockingIOError:
            sent = 0
        except OSError:
            self.close()
            return False
        if sent < len(data):
            self.pending, self.busy = data[sent:], True
            self.wake.set()
        return True

    def drain(self, timeout: float) -> None:
        """In the client's own greenlet: finish what the hub could not send at once."""
        with gevent.Timeout(timeout):
            while self.busy:
                data, self.pending = self.pending, b""
                if data:
                    self.sock.sendall(data)
                if self.newest is not None:
                    self.pending, self.newest = self.newest, None
                else:
                    self.busy = False

    def close(self) -> None:
        self.closed = True
        self.wake.set()


class Watchers:
    """The open streams that someone's identity opened, by every key that ends them
    (Viewer.keys), and the keys of the notices heard lately. ``clock`` is time.monotonic,
    the clock of Viewer.since (tests move it)."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self._by_key = {}  # key -> set of Clients
        self._ended = {}  # key -> time.monotonic() the notice was heard, oldest first

    def add(self, client: Client) -> None:
        """Watch ``client``; end it now if a notice heard since its credentials were
        checked names it (a revocation that raced its ticket)."""
        viewer = client.viewer
        if viewer is None:
            return
        if any(self._ended.get(key, viewer.since) > viewer.since for key in viewer.keys):
            client.close()
            return
        for key in viewer.keys:
            self._by_key.setdefault(key, set()).add(client)

    def discard(self, client: Client) -> None:
        for key in client.viewer.keys if client.viewer is not None else ():
            clients = self._by_key.get(key)
            if clients is not None:
                clients.discard(client)
                if not clients:
                    del self._by_key[key]

    def end(self, key: str) -> int:
        """End the streams ``key`` names, and remember it for those about to open; how
        many ended."""
        now = self.clock()
        self._ended.pop(key, None)
        self._ended[key] = now
        while (oldest := next(iter(self._ended))) != key and (
                self._ended[oldest] < now - ENDINGS_REMEMBERED_SECONDS):
            del self._ended[oldest]
        ended = list(self._by_key.get(key, ()))
        for client in ended:
            client.close()  # its greenlet wakes, ends the response and leaves its channel
        return len(ended)
