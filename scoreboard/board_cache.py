"""The shared cache of each view's board snapshot, which every worker reads before the
database: in Redis, or in the process for the embedded default (one worker process)."""

import threading
import time

from .store import RedisStore, queue_script

# Stores a snapshot in each view's key only if its version is newer, so concurrent writers
# never regress it. An empty body is a tombstone: "this view changed at this version, read
# it again"; a snapshot read at that same version may replace a tombstone, never the other
# way round. One call marks every view a write moved: one command, not one per view.
_PUT_IF_NEWER = """
local version = tonumber(ARGV[1])
local stored = 0
for _, key in ipairs(KEYS) do
  local current = tonumber(redis.call('HGET', key, 'version') or '-1')
  if current < version or (current == version and ARGV[2] ~= ''
                           and redis.call('HGET', key, 'body') == '') then
    redis.call('HSET', key, 'version', ARGV[1], 'body', ARGV[2])
    redis.call('EXPIRE', key, ARGV[3])
    stored = stored + 1
  end
end
return stored
"""


class MemoryBoardCache:
    def __init__(self):
        self._lock = threading.Lock()
        self._tops = {}

    def get_top(self, view: str):
        """(version, body) of a view's snapshot; body None marks it stale at that version."""
        top = self._tops.get(view)
        # Expiry bounds how stale a process can be that never hears of another's writes.
        return None if top is None or top[2] < time.monotonic() else top[:2]

    def put_top(self, view: str, version: int, body: str | None, ttl: int) -> bool:
        with self._lock:
            current = self.get_top(view)
            if current and (current[0] > version or current[0] == version
                            and (body is None or current[1] is not None)):
                return False
            self._tops[view] = (version, body, time.monotonic() + ttl)
            return True

    def take_recovered(self) -> bool:
        return False  # never away, so it never misses a write


class RedisBoardCache:
    def __init__(self, store: RedisStore):
        self.store = store
        self._put_if_newer = store.client.register_script(_PUT_IF_NEWER)

    def _key(self, view: str) -> str:
        return self.store.key(f"top:{view}")

    def get_top(self, view: str):
        """(version, body) of a view's snapshot; body None marks it stale at that version."""
        version, body = self.store.call(self.store.client.hmget, self._key(view),
                                        "version", "body")
        if version is None or body is None:
            return None
        return int(version), body.decode() or None

    def put_top(self, view: str, version: int, body: str | None, ttl: int) -> bool:
        return bool(self.store.call(self._put_if_newer, keys=[self._key(view)],
                                    args=[version, body or "", ttl]))

    def take_recovered(self) -> bool:
        """True once after an outage: the cache may have missed writes made meanwhile."""
        return self.store.take_recovered("board")

    def queue_stale(self, pipe, views, version: int, ttl: int) -> None:
        """Queue on ``pipe`` the marks that ``views`` changed at ``version`` (the broker
        sends them with its notice, in one round trip)."""
        if views:
            queue_script(pipe, _PUT_IF_NEWER, [self._key(view) for view in views],
                         [version, "", ttl])


BoardCache = MemoryBoardCache | RedisBoardCache
