"""A real server on a Redis Cluster: its workers' shard subscriptions, the connections they
hold to each node, and notices heard again after a node cut a subscription's connection."""

from collections import Counter

from scoreboard.adapters.slots import shard_tags

from ..harness.players import play_http, token_for
from ..harness.servers import socket_holder
from ..harness.waiting import wait_for

WORKERS = 2
MOST_CONNECTIONS_PER_NODE = 15  # per worker: the store's 11 and Flask-Limiter's 4


def shard_channels(cluster, prefix: str) -> dict[int, int]:
    """The service's shard channels with a subscriber, per primary (PUBSUB SHARDCHANNELS)."""
    return {port: len(cluster.node(port).pubsub_shardchannels(prefix + "*"))
            for port in cluster.primary_ports()}


def connections(cluster, server) -> Counter:
    """(worker pid, node port) -> the worker's connections to that node (CLIENT LIST)."""
    held = Counter()
    workers = server.workers()
    for port in cluster.live_ports():
        for client in cluster.node(port).client_list():
            peer = int(client["addr"].rsplit(":", 1)[1])
            try:
                held[socket_holder(workers, peer), port] += 1
            except AssertionError:
                pass  # not a worker's: this test's own, or another node's
    return held


def test_notices_reach_every_worker_on_shard_channels_and_again_after_a_node_cuts_them(
        serve, redis_cluster, open_stream, capsys):
    start, app = serve
    # No look at the board but a notice's: no polling, and a copy is good for a minute.
    server = start(redis_cluster.url, WEB_CONCURRENCY=str(WORKERS),
                   STREAM_POLL_SECONDS="600", TOP_LOCAL_MAX_AGE_SECONDS="600")
    prefix = server.env["REDIS_PREFIX"]
    board = [prefix + "board" + tag for tag in shard_tags()]
    # A worker subscribes with its first stream: one each (each takes its next connection).
    streams = [open_stream(server.url + "/api/scores/stream") for _ in range(WORKERS)]
    assert {s.next_snapshot()["version"] for s in streams} == {0}
    wait_for(lambda: all(redis_cluster.shard_subscribers(c) == WORKERS for c in board),
             "both workers to subscribe to the shards' channels",
             show=lambda: shard_channels(redis_cluster, prefix))
    per_node = shard_channels(redis_cluster, prefix)
    # Each worker's channels: a board channel and a marker channel per shard, and one more.
    assert sum(per_node.values()) == len(board) * (1 + WORKERS) + 1, per_node
    assert len(per_node) == 3 and all(per_node.values()), per_node

    stream = streams[0]
    ann = token_for(app, "ann")
    assert play_http(server.url, ann, "ann") == 1
    assert stream.next_snapshot()["topScores"][0]["score"] == 1
    held = connections(redis_cluster, server)
    assert held and max(held.values()) <= MOST_CONNECTIONS_PER_NODE, held

    # Every shard subscription's connection cut by its node, as a node restart would.
    subscriptions = [(port, client["addr"]) for port in redis_cluster.primary_ports()
                     for client in redis_cluster.node(port).client_list()
                     if client["ssub"] != "0"]
    assert len(subscriptions) == WORKERS * 3  # one per worker per primary
    for port, address in subscriptions:
        redis_cluster.node(port).client_kill(address)
    wait_for(lambda: all(redis_cluster.shard_subscribers(c) == WORKERS for c in board),
             "both workers to subscribe to every shard's channel again",
             show=lambda: shard_channels(redis_cluster, prefix))
    assert play_http(server.url, ann, "ann") == 2
    assert stream.next_snapshot()["topScores"][0]["score"] == 2  # heard through a notice
    # redis-py connected again and subscribed again, one SSUBSCRIBE per slot (PR #4038):
    # the broker never had to make its subscription again.
    assert "board subscription lost" not in server.log()
    with capsys.disabled():
        print(f"\nshard channels per primary: {per_node}; connections per (worker, node): "
              f"{sorted(held.values())}; subscriptions cut: {len(subscriptions)}")
