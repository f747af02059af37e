"""A real server on a Redis Cluster: its workers' shard subscriptions, the connections they
hold to each node, notices heard again after a node cut a subscription's connection, and the
global board's slot moved to another primary while updates flow."""

import re
from collections import Counter

from scoreboard.adapters.slots import key_slot, shard_tags, view_tag

from ..adapters.test_redis_outage import Players, board_catches_up, board_from_database
from ..harness.players import play_http, token_for
from ..harness.servers import call, socket_holder
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


def test_the_global_boards_slot_moved_to_another_primary_while_updates_flow(
        serve, own_redis_cluster, open_stream, capsys):
    cluster = own_redis_cluster
    start, app = serve
    # No look at the board but a notice's: the stream shows that notices arrive.
    server = start(cluster.url, WEB_CONCURRENCY=str(WORKERS), REDIS_RETRY_SECONDS="0.2",
                   STREAM_POLL_SECONDS="600", TOP_LOCAL_MAX_AGE_SECONDS="600")
    prefix = server.env["REDIS_PREFIX"]
    channels = [prefix + "board" + tag for tag in shard_tags()]
    channel = prefix + "board" + view_tag("all")  # the global board's notices
    slot = key_slot(channel)
    streams = [open_stream(server.url + "/api/scores/stream") for _ in range(WORKERS)]
    assert {s.next_snapshot()["version"] for s in streams} == {0}
    wait_for(lambda: all(cluster.shard_subscribers(c) == WORKERS for c in channels),
             "both workers to subscribe to the shards' channels",
             show=lambda: shard_channels(cluster, prefix))
    source = cluster.owner(slot)
    target = next(port for port in cluster.primary_ports() if port != source)
    players = Players(app, server)

    def slot_moves():
        players.wait_for_updates(40)
        # The global rank set built first: the updates during the move place players in it.
        assert call("GET", server.url + "/api/scores/users/ann")[0] == 200
        wait_for(lambda: "rank set all rebuilt" in server.log(), "the global rank set built")
        # Updates between every step: with the slot migrating, half moved and moved.
        cluster.move_slot(slot, target, between=lambda: players.wait_for_updates(10))
        wait_for(lambda: cluster.owner(slot) == target, "the slot to be the target's")
        players.wait_for_updates(60)

    players.phase(slot_moves)
    moved = [key for key in cluster.node(target).scan_iter(prefix + "*")
             if key_slot(key.decode()) == slot]
    assert moved, "none of the service's keys in the slot moved"
    assert set(players.statuses) <= {200, 201}, sorted(Counter(players.statuses).items())
    board_catches_up(server, app)
    truth = board_from_database(app)
    assert sum(e["score"] for e in truth) == players.updates()  # none lost, none twice
    for place, entry in enumerate(truth, 1):
        status, me, _ = call("GET", server.url + f"/api/scores/users/{entry['userId']}")
        assert (status, me["rank"], me["score"]) == (200, place, entry["score"])
    # Ranks from the set that moved, never rebuilt: nothing took the move for an outage.
    assert server.log().count("rank set all rebuilt") == 1

    # Each worker's subscription ended as the old node gave the channel up, not at a later
    # MOVED, and was made again where the channel is now; a notice reaches every stream.
    ended = re.findall(rf"gave up \S+{re.escape(view_tag('all'))}\S*: its slot moved",
                       server.log())
    assert len(ended) == WORKERS, ended
    wait_for(lambda: dict(cluster.node(target).pubsub_shardnumsub(channel))[
        channel.encode()] == WORKERS, "both workers to subscribe on the slot's new primary",
        show=lambda: shard_channels(cluster, prefix))
    score = play_http(server.url, players.tokens["ann"], "ann")
    for stream in streams:
        wait_for(lambda s=stream: any(e["userId"] == "ann" and e["score"] == score
                                      for e in s.next_snapshot()["topScores"]),
                 "every stream to show the update made after the move")
    with capsys.disabled():
        print(f"\nslot {slot} moved {source} -> {target} with {len(moved)} keys: "
              f"{players.updates()} updates acknowledged, as many in the database; "
              f"replies {sorted(Counter(players.statuses).items())}")
