"""The Redis port on a cluster: a command across slots is refused before it is sent, a
write that touches many views, split by slot, leaves its keys on every primary, a batch's
scripts cost no round trip of their own, a batch packed by hand costs one round trip to
each node and follows a slot that moved, and a worker starts while no node answers, as it
does while its one Redis is down."""

import uuid
from collections import Counter

import pytest
import redis
from redis.exceptions import RedisClusterException
from sqlalchemy import insert

import config
from scoreboard import adapters
from scoreboard.adapters.cluster_store import ClusterStore, cluster_connector
from scoreboard.adapters.redis_port import StoreUnavailable
from scoreboard.adapters.slots import key_slot, shard_tags
from scoreboard.core import clock
from scoreboard.data.db import db
from scoreboard.data.models import Group, GroupMember
from scoreboard.identity.auth import issue_token
from scoreboard.web import gate

from ..harness.cluster import RedisClusterServers
from ..harness.meters import redis_errors
from ..harness.players import Player, play, token_for
from ..harness.waiting import wait_for

GROUPS = 20  # a player's groups: each adds three views to every update of theirs
REGIONS = ("DE", "FR", "US", "JP", "BR", "IN", "GB", "ES", "IT", "NL", "SE", "PL")


def test_a_script_across_slots_is_refused_and_counted(make_app):
    store = adapters.of(make_app("cluster")).store
    keys = [store.key("a" + tag) for tag in shard_tags()[:2]]
    assert key_slot(keys[0]) != key_slot(keys[1])
    assert store.slots(keys) == [[0], [1]]
    before = redis_errors(kind="RedisClusterException")
    with pytest.raises(RedisClusterException):
        store.script("return 1", keys, [])
    assert redis_errors(kind="RedisClusterException") == before + 1
    # The same keys one slot at a time go (and so every script of the service must).
    assert [store.script("return 1", [key], []) for key in keys] == [1, 1]


def keys_asked(cluster) -> int:
    """COMMAND GETKEYS calls so far, all nodes told."""
    return sum(cluster.node(port).info("commandstats").get("cmdstat_command|getkeys", {})
               .get("calls", 0) for port in cluster.live_ports())


def test_a_batchs_scripts_go_to_their_node_without_asking_a_node_for_their_keys(
        make_app, redis_cluster):
    app = make_app("cluster")
    before = keys_asked(redis_cluster)
    assert play(app, "ann", times=3) == 3  # each a gate and a notice: batches of scripts
    assert keys_asked(redis_cluster) == before


def make_store(url: str) -> ClusterStore:
    """A store whose batches go packed by hand (its default), as the service's do."""
    settings = config.from_env({"REDIS_URL": url})
    return ClusterStore(cluster_connector(settings, 4), f"test:nodes:{uuid.uuid4().hex[:8]}:",
                        retry_after=600)


@pytest.fixture
def store(redis_cluster):
    made = make_store(redis_cluster.url)
    yield made
    made.delete(*made.scan(made.key("*")))
    made.close()


def one_key_per_primary(store) -> list[str]:
    """A key of ``store``'s on each primary: the shard tags spread over all of them."""
    keys = {}
    for tag in shard_tags():
        key = store.key("k" + tag)
        keys.setdefault(store.client.get_node_from_key(key).name, key)
    return list(keys.values())


def test_a_batch_packed_by_hand_goes_in_one_round_trip_to_each_node_it_touches(
        store, round_trips):
    keys = one_key_per_primary(store)
    assert len(keys) == 3

    def queue(batch):
        for key in keys:
            batch.command("INCR", key)
            batch.script("return redis.call('INCRBY', KEYS[1], ARGV[1])", [key], [10])

    assert store.pipelined(queue) == [1, 11] * 3  # the replies in the order queued
    round_trips.clear()  # each node's connection made, and introduced
    assert store.pipelined(queue) == [12, 22] * 3
    assert len(round_trips) == 3


def test_an_error_reply_in_a_batch_packed_by_hand_is_logged_and_counted_not_an_outage(
        store, caplog):
    text, counter, other = one_key_per_primary(store)
    store.command("SET", text, "text")
    before = redis_errors(kind="ResponseError")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        store.pipelined(lambda batch: (batch.command("INCR", counter),
                                       batch.command("LPUSH", text, "1"),
                                       batch.command("INCR", other)))
    assert redis_errors(kind="ResponseError") == before + 1
    assert "redis refused a command (ResponseError): WRONGTYPE" in caplog.text
    store.send(lambda batch: batch.command("LPUSH", text, "1"))  # raises nothing
    assert redis_errors(kind="ResponseError") == before + 2
    # The other nodes' commands went, and Redis is still asked.
    assert store.pipelined(lambda batch: (batch.command("GET", counter),
                                          batch.command("GET", other),
                                          batch.command("GET", text))) == [b"1", b"1", b"text"]


def test_a_batch_packed_by_hand_follows_a_slot_that_moved_and_learns_where_it_went(
        own_redis_cluster, round_trips):
    cluster = own_redis_cluster
    store = make_store(cluster.url)
    key = store.key("moving")
    assert store.command("GET", key) is None  # the store knows the map of slots
    slot, source = key_slot(key), store.client.get_node_from_key(key).port
    target = next(port for port in cluster.primary_ports() if port != source)
    ids = {port: cluster.node(port).execute_command("CLUSTER", "MYID").decode()
           for port in (source, target)}
    # The slot moves as redis-cli --cluster reshard moves one: it holds no key to migrate.
    cluster.node(target).execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", ids[source])
    cluster.node(source).execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", ids[target])
    for port in (target, source):
        cluster.node(port).execute_command("CLUSTER", "SETSLOT", slot, "NODE", ids[target])
    before = redis_errors()
    assert store.pipelined(lambda batch: batch.command("INCR", key)) == [1]  # after a MOVED
    assert cluster.node(target).get(key) == b"1"
    assert redis_errors() == before
    round_trips.clear()
    assert store.pipelined(lambda batch: batch.command("INCR", key)) == [2]
    assert len(round_trips) == 1  # straight to the slot's new node
    store.close()


def test_a_cluster_of_which_no_node_answers_is_an_outage(own_redis_cluster):
    settings = config.from_env({"REDIS_URL": own_redis_cluster.url})
    store = ClusterStore(cluster_connector(settings, 4), "test:gone:", retry_after=0)
    assert store.command("SET", store.key("k"), 1)
    own_redis_cluster.stop()
    before = redis_errors()
    for _ in range(2):  # the nodes it knew refuse, then no node can be found at all
        with pytest.raises(StoreUnavailable):
            store.command("GET", store.key("k"))
    assert not store.answers()
    assert redis_errors() == before  # an outage, not a refusal
    store.close()


def test_an_app_built_while_no_node_answers_serves_from_the_database_until_one_does(
        make_app, tmp_path):
    (tmp_path / "later").mkdir()
    cluster = RedisClusterServers(tmp_path / "later")  # its ports chosen, nothing on them yet
    app = make_app("postgres", REDIS_URL=cluster.url, REDIS_RETRY_SECONDS=0)
    client = app.test_client()
    ann = Player("ann", token_for(app, "ann"), client)
    limits = gate.limiter(app).storage

    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").json["redis"] == "unavailable"
    assert ann.play() == 1
    assert client.get("/api/scores/top").json["topScores"][0]["score"] == 1
    # A route of Flask-Limiter's: its in-memory fallback counts while the storage is away.
    assert client.get("/api/users/me", headers=ann.headers).status_code == 200
    assert not limits.check()
    try:
        cluster.start()
        wait_for(lambda: client.get("/readyz").json["redis"] == "ok", "the store to connect")
        assert ann.play() == 2
        assert client.get("/api/scores/top").json["topScores"][0]["score"] == 2
        # The board and ranks are on the cluster now, and the rate limits' storage too.
        prefix = app.config["REDIS_PREFIX"]
        with cluster.client() as look:
            assert list(look.scan_iter(match=prefix + "*")), "no key of the app's"
        assert limits.check()
    finally:
        cluster.stop()


def test_updates_in_many_views_are_split_by_slot_and_spread_over_every_primary(
        make_app, redis_cluster, capsys):
    app = make_app("cluster")
    client = app.test_client()
    for region in REGIONS:  # a player in each region: their all-time, day and week views
        with app.app_context():
            token = issue_token(f"p{region}", region=region)
        client.get("/api/users/me", headers={"Authorization": f"Bearer {token}"})
    with app.app_context():
        now = clock.now()
        ids = [f"g{i:02d}" for i in range(GROUPS)]
        db.session.execute(insert(Group), [
            {"id": g, "name": g, "owner_id": "pDE", "created_at": now} for g in ids])
        db.session.execute(insert(GroupMember), [
            {"group_id": g, "user_id": "pDE", "joined_at": now} for g in ids])
        db.session.commit()
    store = adapters.of(app).store
    notices = store.client.pubsub()
    notices.ssubscribe(*(store.key("board" + tag) for tag in shard_tags()))
    try:
        before = redis_errors()
        for region in REGIONS:
            play(app, f"p{region}")
        assert redis_errors() == before  # no notice, placement or gate call across slots
        heard = set()

        def every_group_heard():
            message = notices.get_sharded_message(timeout=0.1)
            if message is not None and message["type"] == "smessage":
                heard.update(message["data"].decode().split()[1:])
            return {f"group:{g}" for g in ids} <= heard

        wait_for(every_group_heard, "the notices of every group's view", show=lambda: heard)
    finally:
        notices.close()
    rank_sets = adapters.of(app).rank_sets
    for region in REGIONS:  # placed, one script per slot
        assert store.client.zcard(rank_sets.keys(f"region:{region}")[0]) == 1, region
    held = Counter()
    for port in redis_cluster.primary_ports():
        held[port] = sum(1 for _ in redis_cluster.node(port).scan_iter(store.key("*")))
    assert len(held) == 3 and all(held.values()), held
    with capsys.disabled():
        print(f"\nkeys per primary after {len(REGIONS)} players' updates: "
              f"{sorted(held.values())}")
