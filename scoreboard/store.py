"""The fast shared state: the cached board snapshot, the token blocklist and change notices.

Redis holds it in production; a process-local store stands in when nothing is configured.
Both are caches over the database: losing either loses no data.
"""

import threading
import time

import redis

# Stores a snapshot only if its version is newer, so concurrent writers never regress it.
# An empty body is a tombstone: "this view changed at this version, read it again"; a
# snapshot read at that same version may replace a tombstone, never the other way round.
_PUT_IF_NEWER = """
local current = tonumber(redis.call('HGET', KEYS[1], 'version') or '-1')
local version = tonumber(ARGV[1])
if current > version then return 0 end
if current == version and (ARGV[2] == '' or redis.call('HGET', KEYS[1], 'body') ~= '') then
  return 0
end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'body', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""

# -1: this Redis cannot say. Either the blocklist was never loaded here (new, restarted or
# evicted: the marker lives inside the set, so the set cannot be lost without it), or the
# last load is older than the refresh interval, which bounds how long a revocation that
# reached only the database (Redis was down) can go unseen.
_LOADED = "*loaded*"
_IS_REVOKED = f"""
if redis.call('SISMEMBER', KEYS[1], '{_LOADED}') == 0 then return -1 end
if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
return redis.call('SISMEMBER', KEYS[1], ARGV[1])
"""
BLOCKLIST_REFRESH_SECONDS = 60
# The set only grows (loads add, never replace, so a load cannot wipe a revocation made
# meanwhile); dropping it daily lets expired tokens' ids fall out at the next load.
BLOCKLIST_LIFETIME_SECONDS = 24 * 3600


def connection_pool(url: str, max_connections: int) -> redis.BlockingConnectionPool:
    """A bounded pool: under gevent every waiting greenlet could otherwise open its own
    connection, so a burst of requests would leave hundreds of idle ones behind."""
    return redis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=2,  # waiting for a free connection longer than this counts as Redis down
        socket_connect_timeout=0.5,
        socket_timeout=1.0,
        health_check_interval=10,
    )


class StoreUnavailable(Exception):
    """The shared store cannot be reached; callers fall back to the database."""


class MemoryStore:
    """Process-local store for the embedded default (one worker process).

    It keeps no blocklist copy: revocations made by another process (the CLI) would not reach
    it, and the embedded database answers as fast.
    """

    caches_revocations = False

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

    def is_revoked(self, jti: str) -> bool | None:
        return None

    def add_revoked(self, jti: str) -> None:
        pass

    def take_recovered(self, consumer: str) -> bool:
        return False


class RedisStore:
    """Redis-backed store. After a failure it stays away for a moment instead of paying a
    timeout on every request, and reports the recovery once so callers can rebuild caches."""

    def __init__(self, pool: redis.ConnectionPool, prefix: str, retry_after: float = 1.0):
        self.client = redis.Redis(connection_pool=pool)
        self.prefix = prefix
        self.retry_after = retry_after
        self._down_until = 0.0
        self._failed = False
        self._recoveries = 0
        self._seen_recoveries = {}
        self._put_if_newer = self.client.register_script(_PUT_IF_NEWER)
        self._is_revoked = self.client.register_script(_IS_REVOKED)

    def key(self, name: str) -> str:
        return self.prefix + name

    def _call(self, fn, *args, **kwargs):
        if time.monotonic() < self._down_until:
            raise StoreUnavailable("redis recently failed")
        try:
            result = fn(*args, **kwargs)
        except redis.RedisError as exc:
            self._down_until = time.monotonic() + self.retry_after
            self._failed = True
            raise StoreUnavailable(str(exc)) from exc
        if self._failed:
            self._failed = False
            self._recoveries += 1
        return result

    def take_recovered(self, consumer: str) -> bool:
        """True once per consumer after Redis answers again following a failure: what it
        holds may have missed writes made meanwhile."""
        seen = self._seen_recoveries.get(consumer, 0)
        self._seen_recoveries[consumer] = self._recoveries
        return seen < self._recoveries

    def get_top(self, view: str):
        """(version, body) of a view's snapshot; body None marks it stale at that version."""
        version, body = self._call(self.client.hmget, self.key(f"top:{view}"),
                                   "version", "body")
        if version is None or body is None:
            return None
        return int(version), body.decode() or None

    def put_top(self, view: str, version: int, body: str | None, ttl: int) -> bool:
        keys = [self.key(f"top:{view}")]
        args = [version, body or "", ttl]
        return bool(self._call(self._put_if_newer, keys=keys, args=args))

    caches_revocations = True

    def is_revoked(self, jti: str) -> bool | None:
        """None when this Redis cannot say: never loaded, or back from an outage."""
        if self.take_recovered("blocklist"):
            return None
        keys = [self.key("revoked"), self.key("revoked:fresh")]
        answer = self._call(self._is_revoked, keys=keys, args=[jti])
        return None if answer == -1 else bool(answer)

    def load_revoked(self, jtis) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.sadd(self.key("revoked"), _LOADED, *jtis)
        pipe.expire(self.key("revoked"), BLOCKLIST_LIFETIME_SECONDS, nx=True)
        pipe.set(self.key("revoked:fresh"), 1, ex=BLOCKLIST_REFRESH_SECONDS)
        self._call(pipe.execute)

    def add_revoked(self, jti: str) -> None:
        self._call(self.client.sadd, self.key("revoked"), jti)

    def publish(self, channel: str, message: str) -> None:
        self._call(self.client.publish, self.key(channel), message)
