"""Where keys live in a Redis Cluster: the slot of a key, and the shards that views are
spread over (see redis_port.py's note on keys). A single server has no slots, but the same
key names serve it: a hash tag changes nothing there."""

import functools
import zlib

from redis import crc

# Enough shards to spread views over the primaries of any cluster one would run this on (a
# primary holding none of them would hold no view), few enough that every worker subscribes
# to all of their channels.
SHARDS = 64
SLOTS = crc.REDIS_CLUSTER_HASH_SLOTS


@functools.cache
def shard_tags() -> tuple[str, ...]:
    """One hash tag per shard, each hashing to a slot in its own 64th of the slot range, so
    that a cluster whose primaries hold even runs of slots (as ``redis-cli --cluster
    create`` and rebalancing leave them) gets an even share of shards on each."""
    tags = []
    for shard in range(SHARDS):
        low, high = shard * SLOTS // SHARDS, (shard + 1) * SLOTS // SHARDS
        tags.append(next(f"{{s{shard}.{n}}}" for n in range(100_000)
                         if low <= key_slot(f"s{shard}.{n}") < high))
    return tuple(tags)


def view_tag(view: str) -> str:
    """The hash tag of ``view``'s keys and notices: its shard's."""
    return shard_tags()[zlib.crc32(view.encode()) % SHARDS]


def key_slot(key: str) -> int:
    """The cluster slot of ``key`` (of its hash tag, if it has one)."""
    return crc.key_slot(key.encode())
