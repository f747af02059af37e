"""What the service keeps outside its database: Redis's implementation of each port (the
shared board cache, the change-notice broker, the rank sets, the token blocklist, the
stream tickets), or the embedded default's in-process ones. Everything here is a cache over
the database, or as short-lived as a stream ticket: losing it loses no data."""

from dataclasses import dataclass

from flask import Flask, current_app

from .blocklist import RedisBlocklist
from .board_cache import MemoryBoardCache, RedisBoardCache
from .broker import MemoryBroker, RedisBroker
from .cluster_limits import limits_scheme
from .cluster_store import ClusterStore, cluster_connector, cluster_options, is_cluster
from .rank_sets import RedisRankSets
from .store import RedisStore, StoreUnavailable, connection_pool
from .stream_tickets import MemoryStreamTickets, RedisStreamTickets

__all__ = ["Adapters", "StoreUnavailable", "build", "cluster_options",
           "connection_pool", "init_app", "is_cluster", "limits_scheme", "of"]

_KEY = "scoreboard.adapters"


@dataclass(frozen=True)
class Adapters:
    # None where the embedded default has no such thing: no Redis, so no blocklist copy (the
    # database answers) and no rank sets (ranks come from the database).
    store: RedisStore | ClusterStore | None
    cache: MemoryBoardCache | RedisBoardCache
    blocklist: RedisBlocklist | None
    rank_sets: RedisRankSets | None
    broker: MemoryBroker | RedisBroker
    tickets: MemoryStreamTickets | RedisStreamTickets


def build(config) -> Adapters:
    """Redis's adapters when ``REDIS_URL`` is set (a cluster's for ``redis+cluster://``),
    else the in-process ones."""
    if not config.get("REDIS_URL"):
        cache = MemoryBoardCache()
        return Adapters(None, cache, None, None, MemoryBroker(cache),
                        MemoryStreamTickets())
    # The subscription holds one connection of the store's pool (each node's) for good.
    connections = config["REDIS_MAX_CONNECTIONS"] + 1
    if is_cluster(config["REDIS_URL"]):
        store = ClusterStore(cluster_connector(config, connections), config["REDIS_PREFIX"],
                             config["REDIS_RETRY_SECONDS"])
    else:
        store = RedisStore.on_pool(connection_pool(config, connections),
                                   config["REDIS_PREFIX"], config["REDIS_RETRY_SECONDS"])
    cache, rank_sets = RedisBoardCache(store), RedisRankSets(store)
    broker = RedisBroker(store, cache, rank_sets, config["REDIS_SOCKET_TIMEOUT_SECONDS"])
    return Adapters(store, cache, RedisBlocklist(store), rank_sets, broker,
                    RedisStreamTickets(store))


def init_app(app: Flask, built: Adapters) -> None:
    """Keep ``built`` with the app, for the operators' tools (the CLI, /metrics) and tests:
    the capabilities are handed the adapters they need by create_app instead."""
    app.extensions[_KEY] = built


def of(app: Flask | None = None) -> Adapters:
    return (app or current_app).extensions[_KEY]
