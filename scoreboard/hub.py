"""The per-worker fan-out: one broker subscription, one encoded frame, thousands of sockets.

Writing to every client from one greenlet, straight to its socket without blocking, costs a
system call per client per frame; waking one greenlet per client would cost a context switch
and the WSGI machinery on top. A client whose socket is full is handed to its own greenlet,
which finishes the partial frame and then sends only the newest one: a slow client holds at
most two frames and never delays the others.
"""

import json
import logging
import socket
import time
from collections import Counter

import gevent
from gevent.event import Event
from gevent.monkey import get_original

# The real poll(2), not gevent's cooperative one: the reaper asks without waiting.
_poll = get_original("select", "poll")
_POLLIN, _POLLHUP, _POLLERR = 0x001, 0x010, 0x008

from . import leaderboard
from .store import StoreUnavailable

log = logging.getLogger(__name__)


def chunk(payload: bytes) -> bytes:
    """HTTP/1.1 chunked framing, as gunicorn uses for a streamed body of unknown length."""
    return b"%X\r\n%s\r\n" % (len(payload), payload)


def sse_event(snapshot) -> bytes:
    data = json.dumps(snapshot.body(), sort_keys=True, separators=(",", ":"))
    return f"id: {snapshot.version}\nevent: scoreboard\ndata: {data}\n\n".encode()


HEARTBEAT = b": heartbeat\n\n"


class Client:
    """One open stream: its socket and what is still owed to it."""

    __slots__ = ("sock", "chunked", "ip", "wake", "pending", "newest", "busy", "closed")

    def __init__(self, sock, chunked: bool, ip: str):
        self.sock = sock
        self.chunked = chunked
        self.ip = ip
        self.wake = Event()
        self.pending = b""  # the rest of a frame the socket took only part of
        self.newest = None  # the newest frame, to send after ``pending``
        self.busy = False  # its own greenlet is writing; the hub must not
        self.closed = False

    def frame(self, payload_chunked: bytes, payload_plain: bytes) -> bytes:
        return payload_chunked if self.chunked else payload_plain

    def offer(self, data: bytes) -> bool:
        """Try to send ``data`` now without blocking; False when the client is gone."""
        if self.busy:
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


class Hub:
    """Per worker process: fans every board change out to all of its streams."""

    def __init__(self, app, broker):
        self.app = app
        self.broker = broker
        config = app.config
        self.heartbeat = config["STREAM_HEARTBEAT_SECONDS"]
        self.min_interval = config["STREAM_MIN_INTERVAL_SECONDS"]
        self.poll_interval = config["STREAM_POLL_SECONDS"]
        self.write_timeout = config["STREAM_WRITE_TIMEOUT_SECONDS"]
        self.reap_interval = config["STREAM_REAP_SECONDS"]
        self.clients = set()
        self.per_ip = Counter()
        self.version = -1
        self.frames = None  # (chunked, plain) encodings of the newest snapshot
        self.broadcasts = 0
        self._changed = Event()
        self._loaded = Event()
        self._started = False
        self.stopping = False

    # -- the broker's side --------------------------------------------------------------
    def notify(self, version: int | None = None) -> None:
        """A change notice (or, with no version, a reason to look): wake the fan-out loop."""
        if self._started and (version is None or version > self.version):
            self._changed.set()

    def start(self) -> None:
        """On the first stream: subscribe and start the loop. Every caller returns once the
        first board is loaded (or could not be), so no stream starts without a snapshot."""
        if not self._started:
            self._started = True
            self._load()
            self._loaded.set()
            gevent.spawn(self._fan_out)
            gevent.spawn(self._reap)
            self.broker.listen(self)
        self._loaded.wait(timeout=self.write_timeout)

    # -- the streams' side --------------------------------------------------------------
    def admit(self, sock, chunked: bool, ip: str, max_per_ip: int) -> Client | None:
        if self.stopping or self.per_ip[ip] >= max_per_ip:
            return None
        client = Client(sock, chunked, ip)
        self.per_ip[ip] += 1
        return client

    def join(self, client: Client, sent_version: int) -> None:
        """Start delivering to ``client``, catching it up if the board moved meanwhile."""
        self.clients.add(client)
        if self.frames and self.version > sent_version:
            client.offer(client.frame(*self.frames))

    def leave(self, client: Client) -> None:
        self.clients.discard(client)
        self.per_ip[client.ip] -= 1
        if self.per_ip[client.ip] <= 0:
            del self.per_ip[client.ip]

    def stop(self) -> None:
        """End every stream now (worker shutdown); the browsers reconnect elsewhere."""
        self.stopping = True
        for client in list(self.clients):
            client.close()

    # -- the loop -----------------------------------------------------------------------
    def _load(self) -> bool:
        """Fetch the board; encode it once if it is newer than what was sent."""
        with self.app.app_context():
            try:
                snapshot = leaderboard.current_snapshot()
            except Exception:  # database down too: keep streams open, try again later
                log.exception("stream hub could not read the board")
                return False
        if snapshot.version <= self.version:
            return False
        payload = sse_event(snapshot)
        self.version, self.frames = snapshot.version, (chunk(payload), payload)
        return True

    def stats(self) -> dict:
        return {
            "stream_clients": len(self.clients),
            "stream_clients_blocked": sum(1 for c in self.clients if c.busy),
            "stream_broadcasts_total": self.broadcasts,
            "stream_board_version": self.version,
            "stream_broker_subscribed": int(self._started and self.broker.subscribed),
        }

    def _broadcast(self, frames) -> None:
        self.broadcasts += 1
        for client in list(self.clients):
            if not client.offer(client.frame(*frames)):
                self.clients.discard(client)

    def _fan_out(self) -> None:
        """Wait for a notice, a poll or a heartbeat; send the newest board at most once per
        ``min_interval`` so a burst of updates becomes one frame that ends on the newest."""
        now = time.monotonic()
        next_heartbeat, next_poll = now + self.heartbeat, now + self.poll_interval
        while not self.stopping:
            noticed = self._changed.wait(timeout=max(0.0, min(next_heartbeat, next_poll) - now))
            self._changed.clear()
            now = time.monotonic()
            if self.stopping:
                return
            if noticed or now >= next_poll:
                # Without a live subscription, polling is how changes arrive; with one, a
                # rare poll guards against a notice lost in transit.
                quiet = self.heartbeat if self.broker.subscribed else self.poll_interval
                next_poll = now + quiet
                if self._load():
                    self._broadcast(self.frames)
                    next_heartbeat = now + self.heartbeat
                    gevent.sleep(self.min_interval)
                    now = time.monotonic()
                    continue
            if now >= next_heartbeat:
                self._broadcast((chunk(HEARTBEAT), HEARTBEAT))
                next_heartbeat = now + self.heartbeat

    def _reap(self) -> None:
        """Find streams whose browser hung up, with one poll(2) over all of their sockets,
        instead of waiting for a write to fail (which takes two writes after the hang-up)."""
        while not self.stopping:
            gevent.sleep(self.reap_interval)
            by_fd = {}
            poller = _poll()
            for client in self.clients:
                try:
                    fd = client.sock.fileno()
                except OSError:
                    continue
                by_fd[fd] = client
                poller.register(fd, _POLLIN)
            for fd, flags in poller.poll(0):
                client = by_fd[fd]
                if flags & (_POLLHUP | _POLLERR) or _hung_up(client.sock):
                    client.close()
                    self.clients.discard(client)


def _hung_up(sock) -> bool:
    """Readable with nothing to read means the peer closed; a browser sends nothing else."""
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
