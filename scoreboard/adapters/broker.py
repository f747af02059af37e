"""Change notices: after a commit that moved the board, tell every worker its new version;
after one that took someone's sight of a board away, tell every worker to end their streams
(core/viewers.py names them)."""

import logging
import random
import time
import uuid
from functools import partial

import gevent
from gevent.event import Event

from .board_cache import MARK_CHANGED, MemoryBoardCache, RedisBoardCache
from .rank_sets import PLACE, RedisRankSets
from .redis_port import RedisPort, StoreUnavailable, by_slot
from .slots import shard_tags, view_tag

log = logging.getLogger(__name__)

# A notice as one command per slot (one in all on one server): the board cache's marks, the
# rank sets' placements and the message to every worker. KEYS: the marked boards (ARGV[1] of
# them), then PLACE's keys; ARGV: that count, the version, the channel, its message ('' for
# none) and the command that publishes it (RedisPort.PUBLISH), then PLACE's. One command
# rather than three saved about 4 % of an update's instructions (mostly the two replies no
# longer read).
_NOTICE = MARK_CHANGED + PLACE + """
local marked = tonumber(ARGV[1])
mark_changed({unpack(KEYS, 1, marked)}, ARGV[2])
place({unpack(KEYS, marked + 1)}, {unpack(ARGV, 6)})
if ARGV[4] ~= '' then redis.call(ARGV[5], ARGV[3], ARGV[4]) end
return 1
"""


class _Notices:
    """The notices of the writes that go to Redis in one batch, as one: the newest version,
    every view named (in order, each once) and every placement, in the order announced."""

    def __init__(self):
        self.version = 0
        self.views = {}
        self.placements = []

    def add(self, version: int, views, placements) -> None:
        self.version = max(self.version, version)
        self.views.update(dict.fromkeys(views))
        self.placements.extend(placements)


def _nothing(batch) -> None:
    """A write's share of a batch whose notice another write of it queues."""


class MemoryBroker:
    """In-process notices for the embedded default, where there is one worker process."""

    subscribed = True

    def __init__(self, board_cache: MemoryBoardCache):
        self.board_cache = board_cache
        self._hubs = []

    def listen(self, hub) -> None:
        self._hubs.append(hub)

    def sync(self) -> bool:
        """Every notice is heard as it is announced, in this one process."""
        return True

    def announce(self, version: int, views: list[str], placements=()) -> None:
        """Note in the board cache that ``views`` changed at ``version`` and tell every hub
        (there are no rank sets to place the player in: ranks come from the database)."""
        self.board_cache.mark_changed(views, version)
        for hub in self._hubs:
            hub.notify(views, version)

    def end_streams(self, key: str) -> None:
        for hub in self._hubs:
            hub.end_streams(key)


class RedisBroker:
    """Notices over Redis pub/sub, so workers on every machine hear of each change. A view's
    notices go out on its shard's channel (redis_port.view_tag), in the slot of its keys;
    every worker subscribes to every shard's channel, on one connection per node.

    A writer replies only once Redis has taken its notice (``announce``), and a reader can
    make sure that this worker has heard every notice Redis took before the read began
    (``sync``): it publishes a marker on a channel of this worker's own on each node, which
    reaches the worker's subscription to that node after every message published there
    before it (Redis writes a subscriber's messages in the order it ran the PUBLISHes).
    Together: once a write's reply has left, every later read on any worker knows that its
    copy is older."""

    CHANNEL = "board"
    ENDINGS = "stream-ends"  # on the same subscription: no connection of its own
    PING_SECONDS = 5.0  # how often an idle subscription proves it is still alive
    MAX_BACKOFF = 10.0

    def __init__(self, store: RedisPort, board_cache: RedisBoardCache,
                 rank_sets: RedisRankSets, sync_timeout: float):
        self.store = store
        self.board_cache = board_cache
        self.rank_sets = rank_sets
        self.sync_timeout = sync_timeout
        self.subscribed = False
        self._pending = None  # the notice the next batch to Redis takes (announce)
        worker = uuid.uuid4().hex
        self._channels = [store.key(self.CHANNEL + tag) for tag in shard_tags()]
        # One per shard, so that one lives on every node that holds a shard's notices.
        self._marker_channels = {store.key(f"board-sync:{tag}{worker}") for tag in shard_tags()}
        self._echoes = 0  # copies of the newest marker not heard yet
        self._asked = 0  # markers published (or being published)
        self._heard = 0  # the newest marker that came back through the subscription
        self._failed = 0  # the newest marker that will never come back
        self._wanted = Event()  # a reader waits for a marker not yet asked for
        self._progress = Event()  # replaced each time _heard or _failed moves

    def announce(self, version: int, views: list[str], placements=()) -> None:
        """Note in the board cache that ``views`` changed at ``version``, place the player
        in the rank sets (see RedisRankSets.place) and, when views changed, tell every
        worker; returns once Redis has taken it (RedisPort.send).

        The writes whose commands go to Redis in one batch (RedisPort.send: a worker's
        concurrent writes share it) send one notice between them, the newest version naming
        every view they moved: each reply still waits for Redis to take it, and every
        worker hears one message per batch rather than one per write, a cost that is
        updates x workers (docs/SCALING.md, "Capacity")."""
        notices = self._pending
        if notices is None:
            notices = self._pending = _Notices()
            queue = partial(self._queue, notices)
        else:
            queue = _nothing  # the batch that takes ``notices`` is the one this waits for
        notices.add(version, views, placements)
        self.store.send(queue)

    def _queue(self, notices: "_Notices", batch) -> None:
        """Queue ``notices`` on ``batch``, one script per slot (RedisPort.slots). The message
        goes in one of them, naming every view: a worker reads the views from the message,
        whatever the channel, and a reader's marker on that node comes after it. Which slot
        carries it turns with the version, so no node hands out every message."""
        if self._pending is notices:
            self._pending = None  # later writes start a notice of their own
        views, version = list(notices.views), notices.version
        groups = by_slot(self.store, [*views, *(view for view, *_ in notices.placements)])
        speaking = [group for group in groups if any(view in views for view in group)]
        voice = speaking[version % len(speaking)] if speaking else None
        message = " ".join([str(version), *views])
        for group in groups:
            named = [view for view in views if view in group]
            keys, args = self.rank_sets.placement_arguments(
                p for p in notices.placements if p[0] in group)
            channel = self.store.key(self.CHANNEL + view_tag(group[0]))
            batch.script(_NOTICE, self.board_cache.keys(named) + keys, [
                len(named), version, channel, message if group is voice else "",
                self.store.PUBLISH, *args])

    def end_streams(self, key: str) -> None:
        """Tell every worker to end the streams ``key`` names; returns once Redis has taken
        it. A notice Redis could not take is lost (RedisPort.send logs it): those streams
        then end with their token or their lifetime (STREAM_LIFETIME_SECONDS), and none can
        be opened again, as each opening checks the ticket's token and membership."""
        self.store.send(lambda batch: batch.publish(self.store.key(self.ENDINGS), key))

    def sync(self) -> bool:
        """Wait until this worker has heard every notice that Redis took before this call;
        False when that cannot be known (no subscription, or Redis too slow): the caller
        then asks the database. Readers that arrive together share one marker."""
        if not self.subscribed:
            return False
        target = self._asked + 1  # a marker asked for after this call began
        self._wanted.set()
        deadline = time.monotonic() + self.sync_timeout
        while self._heard < target:
            if self._failed >= target or not self.subscribed:
                return False
            if not self._progress.wait(timeout=max(0.0, deadline - time.monotonic())):
                return False
        return True

    def _markers(self, hub) -> None:
        """Publish a marker whenever a reader waits for one, one at a time."""
        while not hub.stopping:
            self._wanted.wait()
            self._wanted.clear()
            self._asked += 1
            marker = self._asked
            try:
                channels = self.store.one_per_node(sorted(self._marker_channels))
                self._echoes = len(channels)
                self.store.pipelined(lambda batch, sent=channels, marker=marker: [
                    batch.publish(channel, marker) for channel in sent])
                deadline = time.monotonic() + self.sync_timeout
                while self._heard < marker and self.subscribed:
                    if not self._progress.wait(timeout=max(0.0, deadline - time.monotonic())):
                        break
            except StoreUnavailable:
                pass  # the readers ask the database
            except Exception:  # never let the loop die: every read would then wait for it
                log.exception("board sync marker %d not sent", marker)
            if self._heard < marker:
                self._failed = marker
                self._moved()

    def _echoed(self, marker: int) -> None:
        """A copy of ``marker`` came back: it is heard once every node's copy has."""
        if marker != self._asked:
            return  # an older marker's, whose readers were answered already
        self._echoes -= 1
        if self._echoes == 0:
            self._heard = max(self._heard, marker)
            self._moved()

    def _moved(self) -> None:
        progress, self._progress = self._progress, Event()
        progress.set()

    def listen(self, hub) -> None:
        """Hold this worker's one subscription in a greenlet of its own, for good."""
        gevent.spawn(self._listen, hub)
        gevent.spawn(self._markers, hub)

    def _listen(self, hub) -> None:
        backoff = 0.25
        while not hub.stopping:
            subscription = None
            try:
                subscription = self.store.subscribe(
                    [*self._channels, self.store.key(self.ENDINGS),
                     *sorted(self._marker_channels)], self.PING_SECONDS)
                self.subscribed = True
                backoff = 0.25
                hub.notify()  # notices may have been missed while unsubscribed: look now
                self._receive(subscription, hub)
            except StoreUnavailable as exc:
                log.warning("board subscription lost, retrying in %.1fs: %s", backoff, exc)
            finally:
                self.subscribed = False
                self._moved()  # readers waiting for a marker ask the database instead
                if subscription is not None:
                    subscription.close()
            if hub.stopping:
                return
            hub.notify()  # switch the hub to polling at once
            gevent.sleep(backoff * random.uniform(0.5, 1.0))
            backoff = min(backoff * 2, self.MAX_BACKOFF)

    def _receive(self, subscription, hub) -> None:
        last_heard = time.monotonic()
        while not hub.stopping:
            message = subscription.get(self.PING_SECONDS)
            if message is None:
                # A half-open connection (a partition, not a restart) answers nothing at all.
                if time.monotonic() - last_heard > 3 * self.PING_SECONDS:
                    raise StoreUnavailable("subscription stopped answering pings")
                subscription.ping()
                continue
            last_heard = time.monotonic()
            if message.channel is None:
                continue
            if message.channel in self._marker_channels:
                self._echoed(int(message.data))
            elif message.channel == self.store.key(self.ENDINGS):
                hub.end_streams(message.data)
            else:
                version, *views = message.data.split()
                hub.notify(views, int(version))
