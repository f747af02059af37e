"""The two ways RedisStore sends a batch of commands (redis_port.Batch) in one round trip:
packed by hand (``Commands``), or on redis-py's own pipeline (``Pipeline``); and the same two
for a cluster, in one round trip to each node the batch touches (``ClusterCommands``,
``ClusterPipeline``). Each ``execute`` returns every reply, an error reply as its exception,
in the order queued."""

import redis
from redis import cluster
from redis.exceptions import SlotNotCoveredError

from .redis_port import StoreUnavailable

# What a node's connection raises when the node cannot take a batch now (it is away, or a
# failover is under way): the batch's commands then go again on redis-py's cluster pipeline,
# which learns the cluster's new map of slots.
UNREACHED = (redis.ConnectionError, redis.TimeoutError)


class Queued:
    """What a batch derives from its ``command``."""

    PUBLISH = "PUBLISH"  # a cluster's batch publishes on shard channels instead

    def script(self, text: str, keys, args) -> None:
        self.command("EVAL", text, len(keys), *keys, *args)

    def publish(self, channel: str, message) -> None:
        self.command(self.PUBLISH, channel, message)


class Connections:
    """A few connections of ``pool`` kept aside between batches packed by hand, so that most
    batches skip the pool's checkout and return (its lock and queue, its observability
    hooks): 116 k instructions of an update's two batches, 6 % (bench/update_cost.py). They
    stay the pool's: taken from it, within its bound, closed by its ``disconnect``. At most
    two, and no more than a quarter of the pool, wait here; any more go back to it, so its
    other users (single commands, the subscription) keep the rest.

    A kept connection is not polled before use, as the pool polls one (``can_read``): under
    gevent that poll is a turn of the hub, 6 % of an update's worker samples (docs/
    PERFORMANCE.md, thirteenth round), and it only narrows the window in which Redis may
    close the connection. A batch whose kept connection Redis closed meanwhile fails before
    anything of it is read, and goes once more on a new one (``Commands.execute``)."""

    KEEP = 2

    def __init__(self, pool: redis.ConnectionPool):
        self.pool = pool
        self.keep = min(self.KEEP, pool.max_connections // 4)
        self.idle = []

    def take(self) -> tuple:
        """A connection, and whether it was kept here (so not polled)."""
        if not self.idle:
            return self.pool.get_connection(), False
        return self.idle.pop(), True

    def give(self, connection) -> None:
        if len(self.idle) < self.keep and not connection.should_reconnect():
            self.idle.append(connection)
        else:
            self.pool.release(connection)

    def close(self) -> None:
        """Give every idle connection back to the pool."""
        while self.idle:
            self.pool.release(self.idle.pop())


class Commands(Queued):
    """Commands packed as they are queued, and their replies read without redis-py's
    pipeline machinery (its packer, callbacks, observability and retry layers), for
    commands whose replies are plain integers and lists: a write's gate and its change
    notices travel this way, on ``connections``. bench/update_cost.py --batches compares
    the two."""

    def __init__(self, connections: Connections):
        self.connections = connections
        self.packed = []

    def __len__(self) -> int:
        return len(self.packed)

    def command(self, *args) -> None:
        parts = [b"*%d\r\n" % len(args)]
        for arg in args:
            data = arg if isinstance(arg, bytes) else str(arg).encode()
            parts.append(b"$%d\r\n%b\r\n" % (len(data), data))
        self.packed.append(b"".join(parts))

    def execute(self) -> list:
        """A dropped connection is retried as redis-py's own pipeline retries it; and a kept
        one that Redis closed while it waited, once, on a new connection."""
        if not self.packed:
            return []
        connection, kept = self.connections.take()
        try:
            return connection.retry.call_with_retry(
                lambda: self._round_trip(connection, kept),
                lambda error: connection.disconnect())
        finally:
            self.connections.give(connection)

    def _round_trip(self, connection, kept: bool = False) -> list:
        try:
            self.send(connection)
            first = self._first_reply(connection)
        except redis.ConnectionError:
            if not kept:
                raise
            # Closed while it waited: the send failed, or the first reply was the end of the
            # stream, so Redis read none of the batch, and it goes again. (Unless Redis
            # closed it between running the batch and answering, which redis-py's own
            # retry of a pipeline also takes as nothing having run.)
            connection.disconnect()
            return self._round_trip(connection)
        return [first, *self.replies(connection, len(self.packed) - 1)]

    def _first_reply(self, connection):
        return next(self.replies(connection, 1))

    def send(self, connection) -> None:
        connection.send_packed_command([b"".join(self.packed)])

    def replies(self, connection, count: int | None = None):
        """The replies to what ``send`` sent (or the next ``count`` of them), each as it is
        read: every one is read, so the connection stays in step."""
        for _ in range(len(self.packed) if count is None else count):
            try:
                yield connection.read_response()
            except redis.ResponseError as error:
                yield error


class Pipeline(Queued):
    """Commands on redis-py's pipeline (a cluster's too); with ``transaction``, wrapped in
    MULTI/EXEC."""

    def __init__(self, client, transaction: bool):
        self.pipe = client.pipeline(transaction=transaction)

    def __len__(self) -> int:
        return len(self.pipe)

    def command(self, *args) -> None:
        self.pipe.execute_command(*args)

    def execute(self) -> list:
        return self.pipe.execute(raise_on_error=False)



class ClusterPipeline(Pipeline):
    """A cluster's commands on redis-py's cluster pipeline."""

    PUBLISH = "SPUBLISH"  # to the subscribers on the channel's own node only

    def __init__(self, client: cluster.RedisCluster):
        super().__init__(client, transaction=False)
        self._client = client

    def script(self, text: str, keys, args) -> None:
        self.keyed(keys[0] if keys else None, "EVAL", text, len(keys), *keys, *args)

    def keyed(self, key, *args) -> None:
        """A command sent to the node of ``key``: otherwise redis-py's cluster pipeline
        (8.1.0) asks a node for an EVAL's keys first (COMMAND GETKEYS), a round trip per
        script, which its single commands spare. A slot that no node serves (a failover)
        is left for redis-py to find as the batch goes."""
        try:
            options = {"target_nodes": self._client.get_node_from_key(key)} if key else {}
        except SlotNotCoveredError:
            options = {}
        self.pipe.execute_command(*args, **options)


class ClusterCommands(Queued):
    """A cluster's commands packed by hand: those of each node on one of its connections (a
    Commands batch), every node's sent before any reply is read, so a batch costs one round
    trip to each node it touches, taken at once, without redis-py's cluster pipeline (its
    routing, per-command objects and retry layers: a quarter of an update's instructions on
    a cluster, bench/update_cost.py --redis cluster --batches both). The commands a node
    could not take go again on that pipeline (ClusterPipeline), which follows a moved slot
    (MOVED, ASK, TRYAGAIN: what it retries itself) and learns the cluster's new map of slots
    after a dropped connection, exactly as a batch did before."""

    PUBLISH = "SPUBLISH"

    def __init__(self, client: cluster.RedisCluster, kept: "NodeConnections"):
        self.client = client
        self.kept = kept
        self.queued = []  # (the key that routes it, or None; the command)

    def __len__(self) -> int:
        return len(self.queued)

    def command(self, *args) -> None:
        self.queued.append((args[1] if len(args) > 1 else None, args))

    def script(self, text: str, keys, args) -> None:
        self.queued.append((keys[0] if keys else None,
                            ("EVAL", text, len(keys), *keys, *args)))

    def execute(self) -> list:
        replies = [None] * len(self.queued)
        nodes, again = self._by_node()
        held, sent, read = [], [], []  # (batch, connection); (batch, positions, connection)
        try:
            for batch, positions in nodes:
                try:
                    # A kept connection Redis closed fails here, or at its first reply:
                    # its commands then go on redis-py's cluster pipeline, as below.
                    connection, _ = batch.connections.take()
                    held.append((batch, connection))
                    batch.send(connection)
                    sent.append((batch, positions, connection))
                except UNREACHED:
                    again += positions
            for batch, positions, connection in sent:
                done = 0
                try:
                    for reply in batch.replies(connection):
                        replies[positions[done]] = reply
                        done += 1
                    read.append(connection)
                except UNREACHED:
                    again += positions[done:]
        finally:
            for batch, connection in held:
                if connection not in read:  # replies left unread would answer its next user
                    connection.disconnect()
                batch.connections.give(connection)
        again += [position for position, reply in enumerate(replies)
                  if isinstance(reply, cluster.ClusterPipeline.ERRORS_ALLOW_RETRY)]
        if again:
            again.sort()
            pipeline = ClusterPipeline(self.client)
            for position in again:
                key, args = self.queued[position]
                pipeline.keyed(key, *args)
            for position, reply in zip(again, pipeline.execute()):
                replies[position] = reply
        return replies

    def _by_node(self) -> tuple[list, list[int]]:
        """Each node's batch (Commands) and the positions of its commands; and the
        positions of those left to redis-py: without a key, or in a slot no node serves."""
        nodes, unplaced = {}, []
        for position, (key, args) in enumerate(self.queued):
            try:
                node = self.client.get_node_from_key(key) if key else None
            except SlotNotCoveredError:
                node = None
            if node is None:
                unplaced.append(position)
                continue
            if node.name not in nodes:
                pool = self.client.get_redis_connection(node).connection_pool
                nodes[node.name] = (Commands(self.kept.of(node.name, pool)), [])
            batch, positions = nodes[node.name]
            batch.command(*args)
            positions.append(position)
        return list(nodes.values()), unplaced


class NodeConnections:
    """Each node's Connections, by node name: a node whose pool redis-py made anew (its
    map of slots changed) gets new ones, and the old pool its idle connections back."""

    def __init__(self):
        self._nodes = {}

    def of(self, name: str, pool: redis.ConnectionPool) -> Connections:
        kept = self._nodes.get(name)
        if kept is None or kept.pool is not pool:
            if kept is not None:
                kept.close()
            kept = self._nodes[name] = Connections(pool)
        return kept


class Unreached(Queued):
    """The batch of a store whose cluster no node has answered yet: nothing in it can go."""

    def __init__(self):
        self.queued = 0

    def __len__(self) -> int:
        return self.queued

    def command(self, *args) -> None:
        self.queued += 1

    def execute(self) -> list:
        raise StoreUnavailable("no node of the cluster has answered yet")
