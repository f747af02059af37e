"""The per-worker fan-out: one broker subscription, one encoded frame, thousands of sockets.

Writing to every client from one greenlet, straight to its socket without blocking, costs a
system call per client per frame; waking one greenlet per client would cost a context switch
and the WSGI machinery on top. A client whose socket is full is handed to its own greenlet,
which finishes the partial frame and then sends only the newest one: a slow client holds at
most two frames and never delays the others.

The same subscription carries the notices that end someone's streams (a token revoked, a
player banned, a member gone: core/viewers.py), which the hub applies to its own.
"""

import logging
import socket
import time
from collections import Counter

import gevent
from gevent.event import Event
from gevent.monkey import get_original

from ..core import meters
from ..core.viewers import Viewer
from .clients import Client, Watchers

# The real poll(2), not gevent's cooperative one: the reaper asks without waiting.
_poll = get_original("select", "poll")
_POLLIN, _POLLHUP, _POLLERR = 0x001, 0x010, 0x008


log = logging.getLogger(__name__)


def chunk(payload: bytes) -> bytes:
    """HTTP/1.1 chunked framing, as gunicorn uses for a streamed body of unknown length."""
    return b"%X\r\n%s\r\n" % (len(payload), payload)


HEARTBEAT = b": heartbeat\n\n"


class Channel:
    """The streams watching one view of the board, and that view's newest encoded frame."""

    __slots__ = ("view", "load", "clients", "version", "frames", "dirty", "sent_at")

    def __init__(self, view: str, load):
        self.view = view
        self.load = load  # () -> Snapshot of this view
        self.clients = set()
        self.version = -1
        self.frames = None  # (chunked, plain) encodings of the newest snapshot
        self.dirty = False
        self.sent_at = time.monotonic()  # its last frame or heartbeat (a new stream's first)


class Hub:
    """Per worker process: fans every board change out to all of its streams.

    Streams are grouped by the view they watch; a notice names the view that changed, so
    only that view is read and sent, and a view nobody watches has no channel at all.
    """

    def __init__(self, app, broker, boards, refresher):
        self.app = app
        self.broker = broker
        self.boards = boards  # this worker's copies of the boards, which the streams send
        self.refresher = refresher  # brings them up to date after a notice
        config = app.config
        self.heartbeat = config["STREAM_HEARTBEAT_SECONDS"]
        self.min_interval = config["STREAM_MIN_INTERVAL_SECONDS"]
        self.poll_interval = config["STREAM_POLL_SECONDS"]
        self.write_timeout = config["STREAM_WRITE_TIMEOUT_SECONDS"]
        self.reap_interval = config["STREAM_REAP_SECONDS"]
        self.channels = {}
        self.per_ip = Counter()
        self.watchers = Watchers()
        self._changed = Event()
        self._started = False
        self.stopping = False
        self._also = []  # (start, stop) of other loops a worker runs (run_with)

    # -- the broker's side --------------------------------------------------------------
    def notify(self, views=None, version: int | None = None) -> None:
        """A change notice for ``views`` (or, with none, a reason to look at every view:
        every copy is dropped and read again)."""
        self.boards.notice(views, version)
        if views is None or version is None:
            for name in self.channels:
                self.board_newer(name)
        else:
            self.refresher.changed(views, version)

    def board_newer(self, view: str) -> None:
        """This worker now holds a newer copy of ``view`` (or may): send it to its streams."""
        channel = self.channels.get(view)
        if self._started and channel is not None:
            channel.dirty = True
            self._changed.set()

    def end_streams(self, key: str) -> None:
        """A notice that the streams ``key`` names must end (core/viewers.py)."""
        ended = self.watchers.end(key)
        if ended:
            log.info("ended %d streams: %s", ended, key.partition(" ")[0])

    def run_with(self, start, stop) -> None:
        """Also ``start()`` and ``stop()`` another of the worker's loops with this one's."""
        self._also.append((start, stop))

    def start(self) -> None:
        """At the worker's start: subscribe and start the loops, once per worker."""
        if not self._started:
            self._started = True
            gevent.spawn(self._fan_out)
            gevent.spawn(self._reap)
            self.refresher.start()
            self.broker.listen(self)
            for start, _ in self._also:
                start()

    # -- the streams' side --------------------------------------------------------------
    def admit(self, sock, chunked: bool, ip: str, max_per_ip: int,
              viewer: Viewer | None = None) -> Client | None:
        if self.stopping or self.per_ip[ip] >= max_per_ip:
            return None
        client = Client(sock, chunked, ip, viewer)
        self.per_ip[ip] += 1
        return client

    def channel(self, view: str, load, snapshot) -> Channel:
        """The channel of ``view``, at ``snapshot`` (what a stream opening on it starts
        from) or newer; its streams get ``snapshot`` now if it is newer than what they
        had."""
        channel = self.channels.get(view)
        if channel is None:
            channel = self.channels[view] = Channel(view, load)
        if self._take(channel, snapshot) and channel.clients:
            self._broadcast(list(channel.clients), channel.frames)
        return channel

    def join(self, channel: Channel, client: Client, sent_version: int) -> None:
        """Start delivering to ``client``, catching it up if the view moved meanwhile;
        or end it, when a notice heard since its credentials were checked names it."""
        self.watchers.add(client)
        if client.closed:
            return
        channel.clients.add(client)
        self.channels.setdefault(channel.view, channel)
        if channel.frames and channel.version > sent_version:
            client.offer(client.frame(*channel.frames))

    def leave(self, channel: Channel, client: Client) -> None:
        """Stop delivering to ``client`` and free its address's slot; safe to call twice."""
        channel.clients.discard(client)
        self.watchers.discard(client)
        if not channel.clients and self.channels.get(channel.view) is channel:
            del self.channels[channel.view]
        if client.ip is not None:
            self.per_ip[client.ip] -= 1
            if self.per_ip[client.ip] <= 0:
                del self.per_ip[client.ip]
            client.ip = None

    def clients(self):
        for channel in list(self.channels.values()):
            yield from list(channel.clients)

    def stop(self) -> None:
        """End every stream now (worker shutdown); the browsers reconnect elsewhere."""
        self.stopping = True
        self.refresher.stop()
        for _, stop in self._also:
            stop()
        for client in self.clients():
            client.close()

    def publish(self) -> None:
        """Put this worker's stream figures in /metrics: each reaper round, and for a scrape
        by the worker that answers it (counting at every join, leave and full socket would
        cost more, and could drift)."""
        clients = list(self.clients())
        meters.STREAM_CLIENTS.set(len(clients))
        meters.STREAM_CLIENTS_BLOCKED.set(sum(1 for c in clients if c.busy))
        meters.STREAM_CHANNELS.set(len(self.channels))
        meters.STREAM_BROKER_SUBSCRIBED.set(self._started and self.broker.subscribed)

    # -- the loops ----------------------------------------------------------------------
    def _load(self, channel: Channel) -> bool:
        """Read the view; encode it once if it is newer than what its streams have."""
        channel.dirty = False
        with self.app.app_context():
            try:
                snapshot = channel.load()
            except Exception:  # database down too: keep streams open, try again later
                log.exception("stream hub could not read view %s", channel.view)
                return False
        return self._take(channel, snapshot)

    @staticmethod
    def _take(channel: Channel, snapshot) -> bool:
        """Make ``snapshot`` the channel's frame if it is newer than the one it has."""
        if snapshot.version <= channel.version:
            return False
        payload = snapshot.sse_frame
        channel.version, channel.frames = snapshot.version, (chunk(payload), payload)
        return True

    def _broadcast(self, clients, frames, droppable=False) -> None:
        meters.STREAM_BROADCASTS.inc()
        for client in clients:
            client.offer(client.frame(*frames), droppable)

    def _fan_out(self) -> None:
        """Wait for a notice, a poll or a heartbeat; send each changed view at most once per
        ``min_interval`` so a burst of updates becomes one frame that ends on the newest.

        Heartbeats go to each view's streams that got nothing for ``heartbeat`` seconds,
        whatever the other views do: a proxy in front (HAProxy's timeout server, Heroku's
        55 s window) cuts a stream that stays silent for long, and a busy view must not keep
        a quiet one silent. Views silent for half the interval join the round, so that
        heartbeats go out in rounds rather than one wake-up per view."""
        now = time.monotonic()
        next_poll = now + self.poll_interval
        while not self.stopping:
            oldest = min((c.sent_at for c in self.channels.values()), default=now)
            next_heartbeat = oldest + self.heartbeat
            self._changed.wait(timeout=max(0.0, min(next_heartbeat, next_poll) - now))
            self._changed.clear()
            now = time.monotonic()
            if self.stopping:
                return
            if now >= next_poll:
                # Without a live subscription, polling is how changes arrive; with one, a
                # rare poll guards against a notice lost in transit.
                next_poll = now + (self.heartbeat if self.broker.subscribed else self.poll_interval)
                for channel in self.channels.values():
                    channel.dirty = True
            sent = False
            for channel in [c for c in list(self.channels.values()) if c.dirty]:
                if self._load(channel):
                    self._broadcast(list(channel.clients), channel.frames)
                    channel.sent_at = now
                    sent = True
            if now >= next_heartbeat:
                quiet = [c for c in self.channels.values()
                         if c.sent_at <= now - self.heartbeat / 2]
                self._broadcast([client for c in quiet for client in list(c.clients)],
                                (chunk(HEARTBEAT), HEARTBEAT), True)
                for channel in quiet:
                    channel.sent_at = now
            if sent:
                gevent.sleep(self.min_interval)
                now = time.monotonic()

    def _reap(self) -> None:
        """Find streams whose browser hung up, with one poll(2) over all of their sockets,
        instead of waiting for a write to fail (which takes two writes after the hang-up)."""
        while not self.stopping:
            gevent.sleep(self.reap_interval)
            by_fd = {}
            poller = _poll()
            for client in self.clients():
                try:
                    fd = client.sock.fileno()
                except OSError:
                    continue
                by_fd[fd] = client
                poller.register(fd, _POLLIN)
            for fd, flags in poller.poll(0):
                client = by_fd[fd]
                if flags & (_POLLHUP | _POLLERR) or _hung_up(client.sock):
                    client.close()  # its greenlet wakes and leaves its channel
            self.publish()


def _hung_up(sock) -> bool:
    """Readable with nothing to read means the peer closed its side. A browser never
    half-closes a stream it still reads, so that is taken as gone."""
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
