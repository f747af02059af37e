"""Stream tickets: short-lived, single-use passes that open one stream, each holding what
its issuer wrote (web/stream.py: the player, the token and the view). In Redis, so that any
worker of any instance may take a ticket another issued; in the process for the embedded
default (one worker process). A ticket is an unguessable random name; taking it deletes it
in the same step, so two requests racing with one ticket cannot both have it."""

import secrets
import time

from .redis_port import RedisPort

# GET and DEL in one step: GETDEL would need Redis 6.2, a script runs on any.
_TAKE = """
local record = redis.call('GET', KEYS[1])
if record then redis.call('DEL', KEYS[1]) end
return record
"""


def new_ticket() -> str:
    return secrets.token_urlsafe(32)  # 256 random bits, 43 URL-safe characters


class RedisStreamTickets:
    """Raises StoreUnavailable while Redis is away: a ticket issued elsewhere cannot be
    checked then, and one issued here could not be taken elsewhere."""

    def __init__(self, store: RedisPort):
        self.store = store

    def _key(self, ticket: str) -> str:
        return self.store.key(f"stream-ticket:{ticket}")

    def issue(self, record: str, seconds: int) -> str:
        """A new ticket holding ``record``, good for ``seconds``."""
        ticket = new_ticket()
        self.store.command("SET", self._key(ticket), record, "EX", seconds)
        return ticket

    def take(self, ticket: str) -> str | None:
        """The ticket's record, once: None when it is unknown, taken or expired."""
        record = self.store.script(_TAKE, [self._key(ticket)], [])
        return None if record is None else record.decode()


class MemoryStreamTickets:
    """The embedded default's tickets. ``clock`` is time.monotonic (tests move it)."""

    PRUNE_ABOVE = 1000  # tickets held before an issue first drops the expired ones

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self._held = {}  # ticket -> (expiry on the clock, record)

    def issue(self, record: str, seconds: int) -> str:
        now = self.clock()
        if len(self._held) > self.PRUNE_ABOVE:
            # Bounded by the issue rate (rate-limited per address) times a ticket's life.
            self._held = {t: held for t, held in self._held.items() if held[0] > now}
        ticket = new_ticket()
        self._held[ticket] = (now + seconds, record)
        return ticket

    def take(self, ticket: str) -> str | None:
        held = self._held.pop(ticket, None)
        return held[1] if held is not None and held[0] > self.clock() else None
