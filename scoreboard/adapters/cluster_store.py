"""The Redis port (redis_port.py) on a Redis Cluster, through redis-py's RedisCluster:
``REDIS_URL=redis+cluster://host:port[,host:port...]`` (``rediss+cluster://`` for TLS), the
scheme the ``limits`` library takes for the rate limits' storage too (cluster_limits.py).
Everything else is RedisStore's (store.py): the outage handling, and commands sent later
with the next batch.

In a cluster each command, script or transaction touches one slot: redis-py refuses one
that does not before sending it (RedisClusterException, counted as refused, as a bug). Change
notices go out with SPUBLISH on shard channels, which live on the node of their slot, so
adding primaries adds notice capacity; a plain PUBLISH would reach every node.
"""

import functools
import time
from collections import defaultdict
from collections.abc import Callable
from urllib.parse import unquote, urlsplit

import gevent
import redis
from gevent.queue import Empty, Queue
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import (
    ClusterError,
    MovedError,
    RedisClusterException,
    SlotNotCoveredError,
)

from .redis_batches import ClusterCommands, ClusterPipeline, NodeConnections, Unreached
from .redis_port import Message, StoreUnavailable
from .slots import key_slot
from .store import OUTAGES, RedisStore, lost

SCHEMES = ("redis+cluster://", "rediss+cluster://")


def is_cluster(url: str | None) -> bool:
    return bool(url) and url.startswith(SCHEMES)


def cluster_options(config, max_connections: int) -> dict:
    """RedisCluster's settings but the nodes, for the store and the rate limits alike: those
    of store.connection_pool, for each node's pool."""
    url = config["REDIS_URL"]
    options = {
        "max_connections": max_connections,
        # Waiting for a free connection longer than 2 s counts as Redis down.
        "connection_pool_class": functools.partial(redis.BlockingConnectionPool, timeout=2),
        "socket_connect_timeout": 0.5,
        "socket_timeout": config["REDIS_SOCKET_TIMEOUT_SECONDS"],
        "health_check_interval": 10,
    }
    parts = urlsplit(url)
    if parts.username:
        options["username"] = unquote(parts.username)
    if parts.password:
        options["password"] = unquote(parts.password)
    if url.startswith("rediss+"):
        options.update(ssl=True, ssl_cert_reqs=config["REDIS_SSL_CERT_REQS"])
    return options


def startup_nodes(url: str) -> list[ClusterNode]:
    hosts = urlsplit(url).netloc.rpartition("@")[2]
    return [ClusterNode(host, int(port)) for host, _, port in
            (address.rpartition(":") for address in hosts.split(","))]


def cluster_connector(config, max_connections: int) -> Callable[[], RedisCluster]:
    """What makes a client of the cluster that holds at most ``max_connections`` to each
    node: RedisCluster asks a node for the map of slots as it is made."""
    return functools.partial(RedisCluster, startup_nodes=startup_nodes(config["REDIS_URL"]),
                             **cluster_options(config, max_connections))


class ClusterStore(RedisStore):
    """RedisStore on a cluster: commands go to their slot's primary; a batch goes in one
    round trip to each node it touches. Its client is made at first use (``connect``), so a
    worker starts while no node answers, degraded as on one Redis that is down: until then
    each use is an outage (StoreUnavailable), and making it is tried again no sooner than
    ``retry_after``; once made, the consumers hear of a recovery as after an outage."""

    PUBLISH = "SPUBLISH"
    ERRORS = (redis.RedisError, RedisClusterException)
    # And a slot no node serves, or commands bounced between nodes until redis-py gave up:
    # what a failover looks like until a replica takes over.
    OUTAGES = (*OUTAGES, ClusterError, SlotNotCoveredError)

    def __init__(self, connect: Callable[[], RedisCluster], prefix: str,
                 retry_after: float = 1.0):
        super().__init__(None, prefix, retry_after)
        self._connect = connect
        self._kept = NodeConnections()  # the batches packed by hand keep some of each node's

    @property
    def client(self) -> RedisCluster:
        if self._client is None:
            client = self._ask(self._connected)
            if self._client is None:
                self._client = client
            else:  # another greenlet made one while this one was connecting
                client.close()
        return self._client

    def _connected(self) -> RedisCluster:
        try:
            return self._connect()
        except RedisClusterException as exc:  # no node answered, or none knew every slot yet
            raise redis.ConnectionError(str(exc)) from exc

    def slots(self, keys) -> list[list[int]]:
        groups = defaultdict(list)
        for position, key in enumerate(keys):
            groups[key_slot(key)].append(position)
        return list(groups.values())

    def one_per_node(self, channels) -> list[str]:
        nodes = self._call(lambda: {self.client.get_node_from_key(c).name: c
                                    for c in reversed(channels)})
        return list(nodes.values())

    def subscribe(self, channels, timeout: float) -> "ClusterSubscription":
        return ClusterSubscription(self.client, channels, timeout)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def _batch(self):
        try:
            client = self.client
        except StoreUnavailable:
            return Unreached()
        return ClusterCommands(client, self._kept) if self.packed else ClusterPipeline(client)

    def _failure(self, error: Exception) -> Exception:
        # redis-py raises RedisClusterException itself for keys across slots (a bug in the
        # command) and for a cluster of which no node answers (an outage): only the first
        # speaks of slots.
        if type(error) is RedisClusterException and "slot" not in str(error):
            error = redis.ConnectionError(str(error))
        return super()._failure(error)


class ClusterSubscription:
    """redis_port.Subscription on redis-py's ClusterPubSub: SSUBSCRIBE to each channel on
    its node, over one connection per node, each read by a greenlet of its own so that a
    message from any node is heard at once. A node's connection that drops is made again,
    and its channels subscribed again, by redis-py (one SSUBSCRIBE per slot: the fix of
    redis-py PR #4038, first released in 8.1.0; before it, one SSUBSCRIBE of channels of
    several slots was refused with CROSSSLOT). A node that stays away ends the subscription
    (StoreUnavailable), which the broker makes again on the cluster as it is then.

    So does a slot moved to another primary, whose old node unsubscribes its channels itself
    (SUNSUBSCRIBE): redis-py would subscribe on the new node only at a MOVED that some later
    command meets, and the broker, its markers still heard, would miss notices meanwhile."""

    READ_SECONDS = 1.0  # how long a node's reader waits for a message before pinging if asked

    def __init__(self, client: RedisCluster, channels, timeout: float):
        self._client = client
        self._channels = channels
        self._pubsub = client.pubsub()
        self._heard = Queue()
        self._pings = set()  # the nodes whose reader is to ping at its next turn
        self._readers = []
        try:
            self._pubsub.ssubscribe(*channels)
            self._nodes = [client.get_node(node_name=name)
                           for name in self._pubsub.node_pubsub_mapping]
            self._readers = [gevent.spawn(self._read, node) for node in self._nodes]
            self._confirmed(len(channels), timeout)
        except (StoreUnavailable, *ClusterStore.ERRORS) as exc:
            self.close()
            raise lost(exc) from exc

    def _read(self, node: ClusterNode) -> None:
        """Hand on what ``node`` sends. A connection the node cut is read again once: redis-py
        then connects again and subscribes again (a cluster's clients never retry on their
        own); if that fails too the node is away, and the subscription ends."""
        cut = False
        try:
            while True:
                # redis-py lets a node's pubsub go once it holds no channel (its own slot
                # reconciliation, on a thread); reading it then would return at once, forever.
                if node.name not in self._pubsub.node_pubsub_mapping:
                    raise StoreUnavailable(f"no subscription left on {node.name}")
                try:
                    if node.name in self._pings:
                        self._pings.discard(node.name)
                        self._pubsub.node_pubsub_mapping[node.name].ping()
                    message = self._pubsub.get_sharded_message(
                        timeout=self.READ_SECONDS, target_node=node)
                except redis.ConnectionError:
                    if cut:
                        raise
                    cut = True
                    continue
                except MovedError as exc:  # a (un)subscribe sent where the slot no longer is
                    self._follow(exc.slot_id)
                    raise
                cut = False
                if message is None:
                    continue
                if message["type"] == "sunsubscribe":  # the node gave its slot up (see above)
                    channel = message["channel"].decode()
                    self._follow(key_slot(channel))
                    raise StoreUnavailable(f"{node.name} gave up {channel}: its slot moved")
                self._heard.put(message)
        except Exception as exc:  # handed to whoever reads the subscription
            self._heard.put(exc)

    def _follow(self, slot: int) -> None:
        """Have redis-py learn where ``slot`` is now, from the MOVED reply to a command on
        a key of it, so that the subscription made again goes there."""
        channel = next((c for c in self._channels if key_slot(c) == slot), None)
        try:
            if channel is not None:
                self._client.exists(channel)
        except ClusterStore.ERRORS:
            pass  # the cluster is away: the subscription is made again once it is back

    def _confirmed(self, channels: int, timeout: float) -> None:
        """Wait until every node confirms its channels (see RedisSubscription._confirmed)."""
        deadline = time.monotonic() + timeout
        while channels:
            try:
                message = self._heard.get(timeout=max(0.0, deadline - time.monotonic()))
            except Empty:
                raise StoreUnavailable("subscription not confirmed") from None
            if isinstance(message, Exception):
                raise lost(message)
            channels -= message["type"] == "ssubscribe"

    def get(self, timeout: float) -> Message | None:
        try:
            message = self._heard.get(timeout=timeout)
        except Empty:
            return None
        if isinstance(message, Exception):
            raise lost(message)
        if message["type"] != "smessage":
            return Message(None, "")
        return Message(message["channel"].decode(), message["data"].decode())

    def ping(self) -> None:
        """Every node's reader pings its node; the pongs come back as messages."""
        if any(reader.dead for reader in self._readers):
            raise StoreUnavailable("a node's subscription ended")
        self._pings.update(node.name for node in self._nodes)

    def close(self) -> None:
        gevent.killall(self._readers)
        self._pubsub.close()
