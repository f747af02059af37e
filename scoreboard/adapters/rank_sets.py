"""Redis's sorted sets of the players on each public view of the current time, which
answer ranks in O(log N) (see ranks.py). The embedded default has none
(no rank sets are built): ranks come from the database there.
"""

import functools

from .redis_port import RedisPort, StoreUnavailable, by_slot
from .slots import view_tag

# Every member has score 0, so a sorted set orders them by name, and the name spells the
# board's order (see order.member). A player's newer member replaces the older only if it
# sorts before it, so updates applied out of order still end on the newest. One call takes
# many placements: KEYS are (set, member hash) pairs, ARGV (user, member, lifetime) triples,
# the lifetime in seconds ('' for none). A Lua function, so that the broker's one command per
# notice can call it too.
PLACE = """
local function place(keys, args)
  for i = 1, #keys / 2 do
    local set, members = keys[2 * i - 1], keys[2 * i]
    local user, member, lifetime = args[3 * i - 2], args[3 * i - 1], args[3 * i]
    local old = redis.call('HGET', members, user)
    if not (old and old <= member) then
      if old then redis.call('ZREM', set, old) end
      redis.call('ZADD', set, 0, member)
      redis.call('HSET', members, user, member)
      if lifetime ~= '' then
        redis.call('EXPIRE', set, lifetime)
        redis.call('EXPIRE', members, lifetime)
      end
    end
  end
end
"""
_PLACE = PLACE + "place(KEYS, ARGV)\nreturn 1\n"
# Takes players off sets (an admin hid them, or moved them down): KEYS are (set, member
# hash) pairs, ARGV the player of each pair.
_REMOVE = """
for i = 1, #KEYS / 2 do
  local old = redis.call('HGET', KEYS[2 * i], ARGV[i])
  if old then
    redis.call('ZREM', KEYS[2 * i - 1], old)
    redis.call('HDEL', KEYS[2 * i], ARGV[i])
  end
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


# Placements per call while rebuilding: one script call blocks Redis while it runs, so each
# stays at a few milliseconds.
REBUILD_BATCH = 1000


class RedisRankSets:
    def __init__(self, store: RedisPort):
        self.store = store
        # Remembered: every write places its player in several sets.
        self.keys = functools.lru_cache(maxsize=4096)(self._view_keys)

    def _view_keys(self, view: str) -> tuple[str, str, str]:
        """The view's set, its players' members (a hash) and its completeness marker, which
        share the view's slot (redis_port.view_tag)."""
        key, tagged = self.store.key, view_tag(view) + view
        return key(f"rank:{tagged}"), key(f"rank-member:{tagged}"), key(f"rank-complete:{tagged}")

    def _building(self, view: str) -> str:
        """The claim on rebuilding ``view``'s set, which ``rebuild`` ends with its marker."""
        return self.store.key(f"rank-building:{view_tag(view)}{view}")

    def take_recovered(self) -> bool:
        """True once after an outage: a set may have missed updates made meanwhile."""
        return self.store.take_recovered("ranks")

    def place(self, placements) -> None:
        """Put each (view, user, member, lifetime) in its view's rank set, in one round
        trip. A window's set lives ``lifetime`` seconds more (until after the window), so
        none is left behind; ``None`` keeps a set for good."""
        self.store.pipelined(lambda batch: self.queue_placements(batch, placements))

    def queue_placements(self, batch, placements) -> None:
        """Queue ``place``'s commands on ``batch``: one per slot (RedisPort.slots)."""
        for group in by_slot(self.store, [view for view, *_ in placements]):
            keys, args = self.placement_arguments(p for p in placements if p[0] in group)
            batch.script(_PLACE, keys, args)

    def placement_arguments(self, placements) -> tuple[list, list]:
        """PLACE's keys and arguments for ``placements``."""
        keys, args = [], []
        for view, user_id, member, lifetime in placements:
            keys += self.keys(view)[:2]
            args += [user_id, member, lifetime or ""]
        return keys, args

    def reseat(self, user_id: str, views, placements) -> None:
        """Take the player off the sets of ``views`` and place them by ``placements``
        instead, in one transaction per slot (RedisPort.slots): a view's set is never seen
        without the player. Unlike ``place`` this may move a player down, or off for good:
        nothing else can (scores only rise), an admin can."""
        for group in by_slot(self.store, [*views, *(view for view, *_ in placements)]):
            left = [view for view in views if view in group]
            keys = [key for view in left for key in self.keys(view)[:2]]

            def queue(batch, keys=keys, left=left, group=group):
                if keys:
                    batch.script(_REMOVE, keys, [user_id] * len(left))
                self.queue_placements(batch, [p for p in placements if p[0] in group])

            self.store.transaction(queue)

    def forget(self, view: str) -> None:
        """Mark a view's rank set incomplete, so it is rebuilt before it answers again."""
        self.store.delete(self.keys(view)[2])

    def rank(self, view: str, user_id: str):
        """(0-based rank, member), None when the player is not in the set; raises
        StoreUnavailable when the set is not known to be complete."""
        found = self.store.script(_RANK, self.keys(view), [user_id])
        if found == -1:
            raise StoreUnavailable(f"rank set {view} is not built")
        return None if found is None else (found[0], found[1].decode())

    def complete(self, view: str) -> bool:
        return bool(self.store.command("EXISTS", self.keys(view)[2]))

    def members(self, view: str, start: int, stop: int) -> list[str]:
        return [m.decode() for m in self.store.command(
            "ZRANGE", self.keys(view)[0], start, stop)]

    def claim_rebuild(self, view: str, seconds: int) -> bool:
        return bool(self.store.command("SET", self._building(view), 1,
                                       "NX", "EX", seconds))

    def rebuild(self, view: str, placements, lifetime=None) -> None:
        """Refill a view's rank set from (user, member) pairs, then mark it complete. The set
        is emptied first, before the caller's database read starts (``placements`` is
        lazy), so a write committed meanwhile is either in that read or placed after."""
        zset, members, complete = self.keys(view)
        self.store.delete(zset, members, complete)
        batch = []
        for user_id, member in placements:
            batch.append((view, user_id, member, lifetime))
            if len(batch) == REBUILD_BATCH:
                self.place(batch)
                batch = []
        self.place(batch)

        def mark_complete(batch):
            batch.command("SET", complete, 1)
            if lifetime is not None:
                batch.command("EXPIRE", complete, lifetime)
            batch.command("DEL", self._building(view))

        self.store.transaction(mark_complete)

    def forget_rank_sets(self) -> None:
        """After an outage a set may have missed updates: mark every one incomplete."""
        self.store.delete(*self.store.scan(self.store.key("rank-complete:*")))
