"""Redis's copy of the token blocklist, and the write paths' gate counters that are asked
in the same call. The embedded default keeps no copy (adapters.build gives None): a
revocation made by another process (the CLI) would not reach it, the embedded database
answers as fast, and the gate counts in the process.
"""

from .redis_port import RedisPort

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
# window, in one call per slot (on one server, one call). KEYS: the blocklist's two (ARGV[1]
# of them: 2, or 0 where the blocklist is in another slot), then the counters; ARGV: that
# count, the token's id ('' for none), then each counter's window. A counter's window
# starts with its first hit.
_ADMIT = f"""
local listed = tonumber(ARGV[1])
local answer = {{-1}}
if listed == 2 and ARGV[2] ~= '' and redis.call('SISMEMBER', KEYS[1], '{_LOADED}') == 1
    and redis.call('EXISTS', KEYS[2]) == 1 then
  answer[1] = redis.call('SISMEMBER', KEYS[1], ARGV[2])
end
for i = listed + 1, #KEYS do
  local count = redis.call('INCR', KEYS[i])
  if count == 1 then redis.call('EXPIRE', KEYS[i], ARGV[i - listed + 2]) end
  answer[#answer + 1] = count
  answer[#answer + 1] = redis.call('TTL', KEYS[i])
end
return answer
"""
BLOCKLIST_REFRESH_SECONDS = 60
# The set only grows (loads add, never replace, so a load cannot wipe a revocation made
# meanwhile); dropping it daily lets expired tokens' ids fall out at the next load.
BLOCKLIST_LIFETIME_SECONDS = 24 * 3600


class RedisBlocklist:
    def __init__(self, store: RedisPort):
        self.store = store
        # Tagged: the scripts above take both, which must share a slot.
        self._revoked, self._fresh = store.key("{revoked}"), store.key("{revoked}:fresh")

    def is_revoked(self, jti: str) -> bool | None:
        """None when this Redis cannot say: never loaded, or back from an outage."""
        if self.store.take_recovered("blocklist"):
            return None
        answer = self.store.script(_IS_REVOKED, [self._revoked, self._fresh], [jti])
        return None if answer == -1 else bool(answer)

    def admit(self, jti: str, counters):
        """Is ``jti`` revoked (None: this Redis cannot say), and each (name, window seconds)
        counter's (count, seconds left) after one more hit: one round trip."""
        if self.store.take_recovered("blocklist"):
            jti = ""  # back from an outage: the copy may lack revocations made meanwhile
        keys = [self._revoked, self._fresh,
                *(self.store.key(f"gate:{name}") for name, _ in counters)]
        windows = [None, None, *(s for _, s in counters)]
        groups = self.store.slots(keys)  # the blocklist's two keys come first in theirs

        def queue(batch):
            for group in groups:
                listed = 2 if group[0] == 0 else 0
                batch.script(_ADMIT, [keys[i] for i in group],
                             [listed, jti, *(windows[i] for i in group[listed:])])

        # With the change notices waiting to be sent, if any: one round trip for all.
        answers = self.store.pipelined(queue)
        revoked, counts = None, {}
        for group, answer in zip(groups, answers):
            if group[0] == 0 and answer[0] != -1:
                revoked = bool(answer[0])
            counted = group[2:] if group[0] == 0 else group
            counts.update(zip(counted, zip(answer[1::2], answer[2::2])))
        return revoked, [counts[i] for i in range(2, len(keys))]

    def load_revoked(self, jtis) -> None:
        def load(batch):
            batch.command("SADD", self._revoked, _LOADED, *jtis)
            batch.command("EXPIRE", self._revoked, BLOCKLIST_LIFETIME_SECONDS, "NX")
            batch.command("SET", self._fresh, 1, "EX", BLOCKLIST_REFRESH_SECONDS)

        self.store.transaction(load)

    def add_revoked(self, jti: str) -> None:
        self.store.command("SADD", self._revoked, jti)
