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
# The write paths' gate (gate.py): whether the token is revoked (as _IS_REVOKED; -1 when this
# Redis cannot say, or no token was given) and each counter's count and seconds left in its
# window, in one call. A counter's window starts with its first hit.
_ADMIT = f"""
local answer = {{-1}}
if ARGV[1] ~= '' and redis.call('SISMEMBER', KEYS[1], '{_LOADED}') == 1
    and redis.call('EXISTS', KEYS[2]) == 1 then
  answer[1] = redis.call('SISMEMBER', KEYS[1], ARGV[1])
end
for i = 3, #KEYS do
  local count = redis.call('INCR', KEYS[i])
  if count == 1 then redis.call('EXPIRE', KEYS[i], ARGV[i - 1]) end
  answer[#answer + 1] = count
  answer[#answer + 1] = redis.call('TTL', KEYS[i])
end
return answer
"""
BLOCKLIST_REFRESH_SECONDS = 60
# The set only grows (loads add, never replace, so a load cannot wipe a revocation made
# meanwhile); dropping it daily lets expired tokens' ids fall out at the next load.
BLOCKLIST_LIFETIME_SECONDS = 24 * 3600


# Rank sets: every member has score 0, so a sorted set orders them by name, and the name
# spells the board's order (see order.member). A player's newer member replaces the older
# only if it sorts before it, so updates applied out of order still end on the newest.
_PLACE = """
local old = redis.call('HGET', KEYS[2], ARGV[1])
if old and old <= ARGV[2] then return 0 end
if old then redis.call('ZREM', KEYS[1], old) end
redis.call('ZADD', KEYS[1], 0, ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
if ARGV[3] ~= '' then
  redis.call('EXPIREAT', KEYS[1], ARGV[3])
  redis.call('EXPIREAT', KEYS[2], ARGV[3])
end
return 1
"""
# -1: the set is not known to be complete (never built, or cleared after an outage).
_RANK = """
if redis.call('EXISTS', KEYS[3]) == 0 then return -1 end
local member = redis.call('HGET', KEYS[2], ARGV[1])
if not member then return false end
return {redis.call('ZRANK', KEYS[1], member), member}
"""


def connection_pool(url: str, max_connections: int,
                    socket_timeout: float = 1.0) -> redis.BlockingConnectionPool:
    """A bounded pool: under gevent every waiting greenlet could otherwise open its own
    connection, so a burst of requests would leave hundreds of idle ones behind. A reply
    slower than ``socket_timeout`` counts as Redis down (the database answers instead)."""
    return redis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=2,  # waiting for a free connection longer than this counts as Redis down
        socket_connect_timeout=0.5,
        socket_timeout=socket_timeout,
        health_check_interval=10,
    )


def _script(pipe, script: str, keys, args) -> None:
    """Queue a Lua script on a pipeline by its text: a registered Script would first ask
    Redis whether it knows the script, a round trip of its own on every execute."""
    pipe.eval(script, len(keys), *keys, *args)


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

    def admit(self, jti: str, counters):
        raise StoreUnavailable("the gate counts in the process here")

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
        self._admit = self.client.register_script(_ADMIT)
        self._rank = self.client.register_script(_RANK)

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

    def admit(self, jti: str, counters):
        """Is ``jti`` revoked (None: this Redis cannot say), and each (name, window seconds)
        counter's (count, seconds left) after one more hit: one round trip."""
        if self.take_recovered("blocklist"):
            jti = ""  # back from an outage: the copy may lack revocations made meanwhile
        keys = [self.key("revoked"), self.key("revoked:fresh"),
                *(self.key(f"gate:{name}") for name, _ in counters)]
        answer = self._call(self._admit, keys=keys, args=[jti, *(s for _, s in counters)])
        revoked = None if answer[0] == -1 else bool(answer[0])
        return revoked, list(zip(answer[1::2], answer[2::2]))

    def load_revoked(self, jtis) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.sadd(self.key("revoked"), _LOADED, *jtis)
        pipe.expire(self.key("revoked"), BLOCKLIST_LIFETIME_SECONDS, nx=True)
        pipe.set(self.key("revoked:fresh"), 1, ex=BLOCKLIST_REFRESH_SECONDS)
        self._call(pipe.execute)

    def add_revoked(self, jti: str) -> None:
        self._call(self.client.sadd, self.key("revoked"), jti)

    def announce(self, channel: str, message: str, version: int, views, ttl: int,
                 placements=()) -> None:
        """Mark ``views`` stale at ``version``, place the player in the rank sets (see
        ``place``) and publish ``message`` when views changed: one round trip."""
        pipe = self.client.pipeline(transaction=False)
        for view in views:
            _script(pipe, _PUT_IF_NEWER, [self.key(f"top:{view}")], [version, "", ttl])
        self._add_placements(pipe, placements)
        if views:
            pipe.publish(self.key(channel), message)
        self._call(pipe.execute)

    # -- rank sets (see ranks.py) ------------------------------------------------------------
    def _rank_keys(self, view: str) -> list[str]:
        return [self.key(f"rank:{view}"), self.key(f"rank-member:{view}"),
                self.key(f"rank-complete:{view}")]

    def place(self, placements) -> None:
        """Put each (view, user, member, expire_at) in its view's rank set, in one round
        trip. A window's set expires (epoch seconds) after the window, so none is left
        behind; ``None`` keeps a set for good."""
        pipe = self.client.pipeline(transaction=False)
        self._add_placements(pipe, placements)
        self._call(pipe.execute)

    def _add_placements(self, pipe, placements) -> None:
        for view, user_id, member, expire_at in placements:
            _script(pipe, _PLACE, self._rank_keys(view)[:2], [user_id, member, expire_at or ""])

    def forget(self, view: str) -> None:
        """Mark a view's rank set incomplete, so it is rebuilt before it answers again."""
        self._call(self.client.delete, self._rank_keys(view)[2])

    def rank(self, view: str, user_id: str):
        """(0-based rank, member), None when the player is not in the set; raises
        StoreUnavailable when the set is not known to be complete."""
        found = self._call(self._rank, keys=self._rank_keys(view), args=[user_id])
        if found == -1:
            raise StoreUnavailable(f"rank set {view} is not built")
        return None if found is None else (found[0], found[1].decode())

    def complete(self, view: str) -> bool:
        return bool(self._call(self.client.exists, self._rank_keys(view)[2]))

    def members(self, view: str, start: int, stop: int) -> list[str]:
        return [m.decode() for m in self._call(
            self.client.zrange, self._rank_keys(view)[0], start, stop)]

    def claim_rebuild(self, view: str, seconds: int) -> bool:
        return bool(self._call(self.client.set, self.key(f"rank-building:{view}"), 1,
                               nx=True, ex=seconds))

    def rebuild(self, view: str, placements, expire_at=None) -> None:
        """Refill a view's rank set from (user, member) pairs, then mark it complete. The set
        is emptied first, before the caller's database read starts (``placements`` is
        lazy), so a write committed meanwhile is either in that read or placed after."""
        zset, members, complete = self._rank_keys(view)
        self._call(self.client.delete, zset, members, complete)
        batch = []
        for user_id, member in placements:
            batch.append((view, user_id, member, expire_at))
            if len(batch) == 5000:
                self.place(batch)
                batch = []
        self.place(batch)
        pipe = self.client.pipeline(transaction=True)
        pipe.set(complete, 1)
        if expire_at is not None:
            pipe.expireat(complete, expire_at)
        pipe.delete(self.key(f"rank-building:{view}"))
        self._call(pipe.execute)

    def forget_rank_sets(self) -> None:
        """After an outage a set may have missed updates: mark every one incomplete."""
        keys = list(self.client.scan_iter(match=self.key("rank-complete:*"), count=1000))
        if keys:
            self._call(self.client.delete, *keys)
