"""The Redis port (adapters/redis_port.py) on one server (RedisStore): what the adapters ask
of Redis, with each of the two kinds of batch behind it (packed by hand, or redis-py's
pipeline), and the boundary that lets a cluster implementation plug in: nothing outside the
implementation knows redis-py."""

import ast
import time
import uuid
from pathlib import Path

import gevent
import pytest
import redis

import config
from scoreboard.adapters.redis_port import Message, StoreUnavailable
from scoreboard.adapters.store import RedisStore, connection_pool

from ..harness.meters import redis_errors

PACKAGE = Path(__file__).resolve().parents[2] / "scoreboard"
IMPLEMENTATION = {"adapters/store.py", "adapters/redis_batches.py", "adapters/cluster_store.py",
                  "adapters/cluster_limits.py",
                  "adapters/slots.py"}
# Long enough that a store marked down stays so for the rest of a test, however slow.
RETRY_AFTER = 600
READONLY = "return redis.error_reply('READONLY You can\\'t write against a read only replica.')"


def make_store(url: str) -> RedisStore:
    settings = config.from_env({"REDIS_URL": url, "REDIS_SOCKET_TIMEOUT_SECONDS": "15"})
    return RedisStore.on_pool(connection_pool(settings, 4), f"test:port:{uuid.uuid4().hex[:8]}:",
                      RETRY_AFTER)


@pytest.fixture
def store(request, redis_url):
    """A store whose batches go packed by hand, or (``indirect`` "pipeline") on redis-py's
    pipeline."""
    made = make_store(redis_url)
    made.packed = getattr(request, "param", "packed") == "packed"
    yield made
    made.delete(*made.scan(made.key("*")))
    made.close()


@pytest.fixture
def text_key(store):
    """A key holding a string, which a list command is refused on (WRONGTYPE)."""
    key = store.key("text")
    store.command("SET", key, "text")
    return key


BOTH_BATCH_KINDS = pytest.mark.parametrize("store", ["packed", "pipeline"], indirect=True)


@BOTH_BATCH_KINDS
def test_an_error_reply_to_a_command_sent_later_is_logged_and_counted_not_an_outage(
        store, text_key, caplog):
    before = redis_errors(kind="ResponseError")
    store.send(lambda batch: batch.command("LPUSH", text_key, "1"))  # raises nothing
    assert redis_errors(kind="ResponseError") == before + 1
    assert "redis refused a command (ResponseError): WRONGTYPE" in caplog.text
    assert store.command("GET", text_key) == b"text"  # not "redis recently failed"


@BOTH_BATCH_KINDS
def test_an_error_reply_to_a_pipelined_command_is_raised_as_itself_logged_and_counted(
        store, text_key, caplog):
    before = redis_errors(kind="ResponseError")
    counter = store.key("counter")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        store.pipelined(lambda batch: (batch.command("INCR", counter),
                                       batch.command("LPUSH", text_key, "1")))
    assert redis_errors(kind="ResponseError") == before + 1
    assert "redis refused a command (ResponseError): WRONGTYPE" in caplog.text
    # The next round trip reads its own reply, not a stale one, and Redis is still asked.
    assert store.pipelined(lambda batch: batch.command("GET", text_key)) == [b"text"]
    assert store.command("GET", counter) == b"1"


@BOTH_BATCH_KINDS
def test_a_notice_refused_does_not_fail_the_command_it_rode_with(store, text_key, caplog,
                                                                 under_gevent):
    """A write's change notice goes with the next write's gate: an error reply to the one is
    counted, and the other gets its own replies."""
    before = redis_errors(kind="ResponseError")
    notice = gevent.spawn(store.send, lambda batch: batch.command("LPUSH", text_key, "1"))
    gate = gevent.spawn(store.pipelined, lambda batch: batch.script(
        "return redis.call('INCR', KEYS[1])", [store.key("gate")], []))
    gevent.joinall([notice, gate], raise_error=True)
    assert gate.value == [1]
    assert redis_errors(kind="ResponseError") == before + 1


@BOTH_BATCH_KINDS
def test_an_outage_reply_to_a_command_sent_later_is_reported_as_a_recovery(store, caplog):
    """A notice that a replica refused (READONLY, after a failover) was not applied: once
    Redis answers again, the rank sets and the board cache hear that they may lack writes."""
    store.retry_after = 0
    assert not store.take_recovered("ranks")
    store.send(lambda batch: batch.script(READONLY, [store.key("board")], []))
    assert "a change notice command not applied: You can't write against a read only" \
        in caplog.text
    assert store.answers()
    assert store.take_recovered("ranks")


def test_a_script_goes_by_its_digest_in_one_round_trip_even_after_redis_forgot_it(
        store, round_trips):
    text, key = "return {KEYS[1], ARGV[1]}", store.key("a")
    assert store.script(text, [key], ["x"]) == [key.encode(), b"x"]
    store.client.script_flush()  # as after a restart
    assert store.script(text, [key], ["y"]) == [key.encode(), b"y"]
    round_trips.clear()
    assert store.script(text, [key], ["z"]) == [key.encode(), b"z"]
    assert len(round_trips) == 1


def test_a_transaction_runs_whole_in_one_round_trip(store, round_trips):
    key = store.key("t")
    assert store.answers()  # a connection, open
    round_trips.clear()
    replies = store.transaction(lambda batch: (
        batch.command("SET", key, 1), batch.command("INCR", key),
        batch.script("return redis.call('GET', KEYS[1]) * 10", [key], [])))
    assert replies == [True, 2, 20]
    assert len(round_trips) == 1


def test_an_error_reply_in_a_transaction_is_raised_logged_and_counted(store, text_key):
    before = redis_errors(kind="ResponseError")
    counter = store.key("counter")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        store.transaction(lambda batch: (batch.command("INCR", counter),
                                         batch.command("LPUSH", text_key, "1")))
    assert redis_errors(kind="ResponseError") == before + 1
    assert store.command("GET", counter) == b"1"  # MULTI/EXEC runs the rest: no rollback


def test_keys_are_found_and_deleted_wherever_they_are(store, round_trips):
    keys = [store.key(f"s:{n}") for n in range(3)]
    for key in keys:
        store.command("SET", key, 1)
    assert sorted(store.scan(store.key("s:*"))) == keys
    store.delete(*keys)
    assert store.scan(store.key("s:*")) == []
    round_trips.clear()
    store.delete()
    assert round_trips == []  # no keys: nothing to ask


def test_a_subscription_hears_what_is_published_once_subscribe_returns(store):
    channels = [store.key("c1"), store.key("c2")]
    subscription = store.subscribe(channels, timeout=5)
    try:
        store.pipelined(lambda batch: (batch.publish(channels[1], "hello"),
                                       batch.publish(channels[0], 7)))
        assert subscription.get(5) == Message(channels[1], "hello")
        assert subscription.get(5) == Message(channels[0], "7")
        assert subscription.get(0.01) is None
        subscription.ping()
        assert subscription.get(5) == Message(None, "")
    finally:
        subscription.close()


def test_a_subscription_whose_redis_goes_away_raises_store_unavailable(own_redis):
    store = make_store(own_redis.url)
    subscription = store.subscribe([store.key("c")], timeout=5)
    own_redis.kill()
    with pytest.raises(StoreUnavailable):
        subscription.get(5)
    subscription.close()
    with pytest.raises(StoreUnavailable):
        store.subscribe([store.key("c")], timeout=5)
    store.close()


def batch_connection(store) -> int:
    """The id Redis gives the connection that a batch packed by hand goes on."""
    return store.pipelined(lambda batch: batch.command("CLIENT", "ID"))[0]


def test_batches_packed_by_hand_keep_a_connection_aside_and_make_it_again_once_cut(store):
    kept = batch_connection(store)
    assert [batch_connection(store) for _ in range(3)] == [kept] * 3
    # The single commands go on the pool's other connections.
    assert store.command("CLIENT", "ID") != kept
    store.command("CLIENT", "KILL", "ID", kept)  # as an idle timeout would
    deadline = time.monotonic() + 5
    while kept in clients(store) and time.monotonic() < deadline:
        gevent.sleep(0.01)
    # Not polled before use: the batch finds it closed, and goes once on a new connection.
    key = store.key("kept")
    again, count = store.pipelined(lambda batch: (batch.command("CLIENT", "ID"),
                                                   batch.command("INCR", key)))
    assert again != kept
    assert count == 1
    assert batch_connection(store) == again


def clients(store) -> list[int]:
    """The ids of the connections Redis holds now."""
    listed = store.command("CLIENT", "LIST").decode().splitlines()
    return [int(line.split()[0].removeprefix("id=")) for line in listed]


def test_a_closed_store_lets_go_of_the_connections_its_batches_kept(store, redis_url):
    closed = make_store(redis_url)
    kept = batch_connection(closed)
    closed.close()
    assert kept not in clients(store)


def test_a_small_pool_keeps_no_connection_aside_from_its_other_users(redis_url):
    """A pool of two keeps none: a subscription holds one, the commands need the other."""
    settings = config.from_env({"REDIS_URL": redis_url})
    store = RedisStore.on_pool(connection_pool(settings, 2), "test:port:", RETRY_AFTER)
    subscription = store.subscribe([store.key("c")], timeout=5)
    try:
        batch_connection(store)
        assert store.command("PING") is True
        assert batch_connection(store) > 0
    finally:
        subscription.close()
        store.close()


def test_only_the_implementation_knows_redis_py():
    """The adapters and everything above them ask through the port: no ``import redis``, no
    reach into a store's ``client``, so another implementation (Redis Cluster) plugs in."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        if name in IMPLEMENTATION:
            continue
        for node in ast.walk(ast.parse(path.read_text(), name)):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                modules = [node.module]
            else:
                modules = []
            if any(module.split(".")[0] == "redis" for module in modules):
                offenders.append(f"{name}:{node.lineno} imports redis")
            if isinstance(node, ast.Attribute) and node.attr == "client":
                offenders.append(f"{name}:{node.lineno} uses .client")
    assert offenders == []
