"""Change notices: after a commit that moved the board, tell every worker its new version."""

import logging
import random
import time

import gevent
import redis

from .board_cache import MARK_CHANGED, MemoryBoardCache, RedisBoardCache
from .rank_sets import PLACE, RedisRankSets
from .store import RedisStore, queue_script

log = logging.getLogger(__name__)

# A notice as one command: the board cache's marks, the rank sets' placements and the
# message to every worker. KEYS: the marked boards (ARGV[1] of them), then PLACE's keys;
# ARGV: that count, the version, the channel and its message ('' for none), then PLACE's.
# One command rather than three saved about 4 % of an update's instructions (mostly the
# two replies no longer read).
_NOTICE = MARK_CHANGED + PLACE + """
local marked = tonumber(ARGV[1])
mark_changed({unpack(KEYS, 1, marked)}, ARGV[2])
place({unpack(KEYS, marked + 1)}, {unpack(ARGV, 5)})
if ARGV[4] ~= '' then redis.call('PUBLISH', ARGV[3], ARGV[4]) end
return 1
"""


class MemoryBroker:
    """In-process notices for the embedded default, where there is one worker process."""

    subscribed = True

    def __init__(self, board_cache: MemoryBoardCache):
        self.board_cache = board_cache
        self._hubs = []

    def listen(self, hub) -> None:
        self._hubs.append(hub)

    def announce(self, version: int, views: list[str], placements=()) -> None:
        """Note in the board cache that ``views`` changed at ``version`` and tell every hub
        (there are no rank sets to place the player in: ranks come from the database)."""
        self.board_cache.mark_changed(views, version)
        for hub in self._hubs:
            hub.notify(views, version)


class RedisBroker:
    """Notices over Redis pub/sub, so workers on every machine hear of each change."""

    CHANNEL = "board"
    PING_SECONDS = 5.0  # how often an idle subscription proves it is still alive
    MAX_BACKOFF = 10.0

    def __init__(self, store: RedisStore, board_cache: RedisBoardCache,
                 rank_sets: RedisRankSets):
        self.store = store
        self.board_cache = board_cache
        self.rank_sets = rank_sets
        self.subscribed = False

    def announce(self, version: int, views: list[str], placements=()) -> None:
        """Note in the board cache that ``views`` changed at ``version``, place the player
        in the rank sets (see RedisRankSets.place) and, when views changed, tell every
        worker, with the next commands this process sends (RedisStore.send_later)."""
        marked = self.board_cache.keys(views)
        keys, args = self.rank_sets.placement_arguments(placements)
        message = " ".join([str(version), *views]) if views else ""
        self.store.send_later(lambda pipe: queue_script(
            pipe, _NOTICE, marked + keys,
            [len(marked), version, self.store.key(self.CHANNEL), message, *args]))

    def listen(self, hub) -> None:
        """Hold this worker's one subscription in a greenlet of its own, for good."""
        gevent.spawn(self._listen, hub)

    def _listen(self, hub) -> None:
        backoff = 0.25
        while not hub.stopping:
            pubsub = self.store.client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(self.store.key(self.CHANNEL))
                self.subscribed = True
                backoff = 0.25
                hub.notify()  # notices may have been missed while unsubscribed: look now
                self._receive(pubsub, hub)
            except redis.RedisError as exc:
                log.warning("board subscription lost, retrying in %.1fs: %s", backoff, exc)
            finally:
                self.subscribed = False
                pubsub.close()
            if hub.stopping:
                return
            hub.notify()  # switch the hub to polling at once
            gevent.sleep(backoff * random.uniform(0.5, 1.0))
            backoff = min(backoff * 2, self.MAX_BACKOFF)

    def _receive(self, pubsub, hub) -> None:
        last_heard = time.monotonic()
        while not hub.stopping:
            message = pubsub.get_message(timeout=self.PING_SECONDS)
            if message is None:
                # A half-open connection (a partition, not a restart) answers nothing at all.
                if time.monotonic() - last_heard > 3 * self.PING_SECONDS:
                    raise redis.ConnectionError("subscription stopped answering pings")
                pubsub.ping()
                continue
            last_heard = time.monotonic()
            if message["type"] == "message":
                version, *views = message["data"].decode().split()
                hub.notify(views, int(version))
