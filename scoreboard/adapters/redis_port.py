"""The Redis port: everything the Redis adapters (board cache, rank sets, blocklist, broker)
ask of Redis, and nothing more. Two implementations: RedisStore (store.py) on one server,
ClusterStore (cluster_store.py) on a Redis Cluster; their callers cannot tell which.

Keys are always declared. In a cluster every key of one command, script or transaction must
hash to one slot (keys whose names share a ``{tag}`` do: only the part in braces is
hashed), so an implementation must be able to see each one: a script's ``keys``, the keys
given to ``delete``, and a command's one key, which comes right after its name (``"HMGET",
key, ...``). A command with several keys is a script or ``delete``, never ``command``.

A view's keys are tagged with its shard (slots.view_tag), so one script may touch them all,
and a script touching several views is split by ``slots``. Shards are a fixed set, rather
than a tag per view, so that a change notice can go out on its view's shard channel (a
script may publish only on a channel of its keys' slot) and every worker knows, from its
start, the channels to subscribe to.
"""

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol

from .slots import view_tag


def by_slot(port: "RedisPort", views) -> list[list[str]]:
    """``views`` (each once, in order) in groups whose keys one script may touch together:
    each group's share one slot in a cluster (RedisPort.slots)."""
    views = list(dict.fromkeys(views))
    return [[views[i] for i in group] for group in port.slots([view_tag(v) for v in views])]


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
        """Queue a message to every subscriber of ``channel`` (RedisPort.PUBLISH)."""


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

    PUBLISH: str  # the command that publishes, for scripts: PUBLISH, or a cluster's SPUBLISH

    def key(self, name: str) -> str:
        """The key (or channel) called ``name`` for this service."""

    def slots(self, keys: Sequence[str]) -> list[list[int]]:
        """The positions of ``keys`` in groups, in order, that one command or script may
        touch together: one group on one server, one per slot in a cluster."""

    def one_per_node(self, channels: Sequence[str]) -> list[str]:
        """Some of ``channels``: one on each node that holds any of them now."""

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
