"""The Redis port: everything the Redis adapters (board cache, rank sets, blocklist, broker)
ask of Redis, and nothing more. The implementation today is the single-node RedisStore
(store.py); a Redis Cluster one plugs in here without changing its callers.

Keys are always declared. In a cluster every key of one command, script or transaction must
hash to one slot (keys whose names share a ``{tag}`` do: only the part in braces is
hashed), so an implementation must be able to see each one: a script's ``keys``, the keys
given to ``delete``, and a command's one key, which comes right after its name (``"HMGET",
key, ...``). A command with several keys is a script or ``delete``, never ``command``.
"""

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol


class StoreUnavailable(Exception):
    """The shared store cannot be reached; callers fall back to the database."""


class Batch(Protocol):
    """Commands queued to go to Redis together, in the order queued."""

    def command(self, *args) -> None:
        """Queue one command: its name, then its key (if any), then its arguments."""

    def script(self, text: str, keys: Sequence[str], args: Sequence) -> None:
        """Queue a Lua script, sent by its text (EVAL): asking Redis first whether it knows
        the script would cost a round trip of its own."""

    def publish(self, channel: str, message) -> None:
        """Queue a message to every subscriber of ``channel``."""


Queue = Callable[[Batch], Any]  # adds a batch's commands: ``queue(batch)``


class Message(NamedTuple):
    """What a subscription heard: ``data`` published on ``channel``, or, with ``channel``
    None, an answer that carries no message (to a ping)."""

    channel: str | None
    data: str


class Subscription(Protocol):
    """Channels subscribed to on a connection of their own. Each method raises
    StoreUnavailable once that connection is lost: subscribe again."""

    def get(self, timeout: float) -> Message | None:
        """The next message, or None when nothing came within ``timeout`` seconds."""

    def ping(self) -> None:
        """Ask for an answer (a Message without channel), to prove the connection lives."""

    def close(self) -> None:
        ...


class RedisPort(Protocol):
    """Redis as the adapters use it. Every method raises StoreUnavailable when Redis cannot
    be reached (or could not a moment ago), and the error itself, logged and counted
    (scoreboard_redis_errors_total), for a command Redis refused: a bug, not an outage."""

    def key(self, name: str) -> str:
        """The key (or channel) called ``name`` for this service."""

    def command(self, *args) -> Any:
        """Run one command (see the module's note on keys); its reply."""

    def script(self, text: str, keys: Sequence[str], args: Sequence) -> Any:
        """Run a Lua script on ``keys`` with ``args``, in one round trip; its reply."""

    def delete(self, *keys: str) -> None:
        """Delete ``keys``, which need not share a slot."""

    def scan(self, pattern: str) -> list[str]:
        """Every key matching ``pattern``, wherever it lives."""

    def transaction(self, queue: Queue) -> list:
        """Run what ``queue`` adds atomically (MULTI/EXEC), in one round trip; the
        replies."""

    def pipelined(self, queue: Queue) -> list:
        """Run what ``queue`` adds in one round trip, together with what waits to be sent
        (``send``), which goes first; the replies to ``queue``'s commands alone."""

    def send(self, queue: Queue) -> None:
        """Send commands whose replies nobody reads (a change notice), and return once Redis
        has taken them or failed to: a failure is logged, never raised."""

    def subscribe(self, channels: Sequence[str], timeout: float) -> Subscription:
        """Subscribe to ``channels``, returning once Redis confirmed it (StoreUnavailable
        if it did not within ``timeout`` seconds)."""

    def answers(self) -> bool:
        """Whether Redis answers now."""

    def take_recovered(self, consumer: str) -> bool:
        """True once per consumer after Redis answers again following a failure: what it
        holds may have missed writes made meanwhile."""

    def close(self) -> None:
        """Let go of every connection."""
