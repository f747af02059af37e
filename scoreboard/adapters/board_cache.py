"""The shared cache of each view's board snapshot, which every worker reads before the
database: in Redis, or in the process for the embedded default (one worker process).

Each entry holds the snapshot (its version and JSON) and ``changed``: the newest version a
change notice named for the view. A snapshot older than that is still served while the
refresher (refresher.py) builds the next one, so readers never wait for the database.
"""

import threading
import time
from dataclasses import dataclass

from .redis_port import RedisPort, StoreUnavailable, by_slot
from .slots import view_tag

# Stores a snapshot in a view's entry only if its version is newer, so concurrent writers
# never regress it.
_PUT_IF_NEWER = """
local current = tonumber(redis.call('HGET', KEYS[1], 'version') or '-1')
if current >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'body', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""
# Notes in each view's entry that it changed at a version (a notice); one call for every
# view a write moved. An entry that does not exist stays so: its first reader builds it.
# A Lua function, so that the broker's one command per notice can call it too.
MARK_CHANGED = """
local function mark_changed(keys, version)
  for _, key in ipairs(keys) do
    if tonumber(redis.call('HGET', key, 'changed') or '0') < tonumber(version) then
      redis.call('HSET', key, 'changed', version)
    end
  end
end
"""
_MARK_CHANGED = MARK_CHANGED + "mark_changed(KEYS, ARGV[1])\nreturn 1\n"


@dataclass(frozen=True)
class Cached:
    version: int
    body: str
    changed: int  # the newest version a notice named; above ``version``: a newer one is due

    @property
    def stale(self) -> bool:
        return self.changed > self.version


class MemoryBoardCache:
    def __init__(self):
        self._lock = threading.Lock()
        self._tops = {}  # view -> [version, body, changed, expires (monotonic)]

    def get_top(self, view: str) -> Cached | None:
        top = self._tops.get(view)
        # Expiry bounds how stale a process can be that never hears of another's writes.
        if top is None or top[3] < time.monotonic():
            return None
        return Cached(*top[:3])

    def put_top(self, view: str, version: int, body: str, ttl: int) -> bool:
        with self._lock:
            current = self.get_top(view)
            if current is not None and current.version >= version:
                return False
            changed = current.changed if current else 0
            self._tops[view] = [version, body, changed, time.monotonic() + ttl]
            return True

    def mark_changed(self, views, version: int) -> None:
        with self._lock:
            for view in views:
                top = self._tops.get(view)
                if top is not None:
                    top[2] = max(top[2], version)

    def claim_refresh(self, view: str, seconds: float) -> bool:
        return True  # one process: its refresher is the only one

    def claim_build(self, view: str, seconds: float) -> bool:
        return True  # one process: its loading lock (LocalBoards.loading) lets one build

    def end_build(self, view: str) -> None:
        pass

    def take_recovered(self) -> bool:
        return False  # never away, so it never misses a write


class RedisBoardCache:
    def __init__(self, store: RedisPort):
        self.store = store

    def _key(self, view: str) -> str:
        return self.store.key(f"top:{view_tag(view)}{view}")

    def get_top(self, view: str) -> Cached | None:
        version, body, changed = self.store.command("HMGET", self._key(view),
                                                    "version", "body", "changed")
        if version is None or body is None:
            return None
        return Cached(int(version), body.decode(), int(changed or 0))

    def put_top(self, view: str, version: int, body: str, ttl: int) -> bool:
        return bool(self.store.script(_PUT_IF_NEWER, [self._key(view)], [version, body, ttl]))

    def mark_changed(self, views, version: int) -> None:
        """One script per slot (RedisPort.slots), in one round trip."""
        self.store.pipelined(lambda batch: [
            batch.script(_MARK_CHANGED, self.keys(group), [version])
            for group in by_slot(self.store, views)])

    def keys(self, views) -> list[str]:
        """The keys of ``views``' entries, for MARK_CHANGED."""
        return [self._key(view) for view in views]

    def claim_refresh(self, view: str, seconds: float) -> bool:
        """True for the one worker of the cluster that rebuilds ``view`` now; nobody else
        may for ``seconds``."""
        return self._claim(f"refreshing:{view}", seconds)

    def claim_build(self, view: str, seconds: float) -> bool:
        """True for the one request of the cluster that builds ``view`` for a reader now,
        until it is done (end_build) or ``seconds`` have passed."""
        return self._claim(f"building:{view}", seconds)

    def end_build(self, view: str) -> None:
        try:
            self.store.delete(self.store.key(f"building:{view}"))
        except StoreUnavailable:
            pass  # the claim lapses by itself

    def _claim(self, name: str, seconds: float) -> bool:
        return bool(self.store.command("SET", self.store.key(name), 1, "NX",
                                       "PX", max(1, int(seconds * 1000))))

    def take_recovered(self) -> bool:
        """True once after an outage: the cache may have missed writes made meanwhile."""
        return self.store.take_recovered("board")


BoardCache = MemoryBoardCache | RedisBoardCache
