"""The Redis connection's commands that nobody waits for (change notices): under gevent they
wait for the next command this process sends and go first, in its round trip; elsewhere they
go at once; a Redis that is away costs a log line, never the request."""

import gevent
import pytest
import redis

import config
from scoreboard import store as store_module
from scoreboard.store import RedisStore, StoreUnavailable, connection_pool


@pytest.fixture
def store(redis_url):
    settings = config.from_env({"REDIS_URL": redis_url, "REDIS_SOCKET_TIMEOUT_SECONDS": "15"})
    made = RedisStore(connection_pool(settings, 4), "test:store:")
    made.client.delete("test:store:k")
    yield made
    made.client.delete("test:store:k")
    made.client.connection_pool.disconnect()


@pytest.fixture
def round_trips(monkeypatch):
    sent = []
    send = redis.connection.AbstractConnection.send_packed_command

    def counted(self, *args, **kwargs):
        sent.append(1)
        return send(self, *args, **kwargs)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counted)
    return sent


@pytest.fixture
def under_gevent(monkeypatch):
    monkeypatch.setattr(store_module.monkey, "is_module_patched", lambda name: True)


def test_without_gevent_a_notice_goes_at_once(store, round_trips):
    store.send(lambda pipe: pipe.execute_command("SET", "test:store:k", "1"))
    assert len(round_trips) == 1
    assert store.client.get("test:store:k") == b"1"


def test_under_gevent_notices_sent_together_share_a_round_trip(store, round_trips,
                                                               under_gevent):
    senders = [gevent.spawn(store.send, lambda pipe: pipe.execute_command(
        "SET", "test:store:k", "1")), gevent.spawn(store.send, lambda pipe: pipe.execute_command(
            "APPEND", "test:store:k", "2"))]
    gevent.joinall(senders, raise_error=True)
    assert len(round_trips) == 1  # both in one pipeline, in the order given
    assert store.client.get("test:store:k") == b"12"


def test_under_gevent_a_notice_rides_with_another_greenlets_command(store, round_trips,
                                                                    under_gevent):
    sender = gevent.spawn(store.send, lambda pipe: pipe.execute_command(
        "SET", "test:store:k", "1"))
    reader = gevent.spawn(store.pipelined, lambda pipe: pipe.execute_command(
        "GET", "test:store:k"))
    gevent.joinall([sender, reader], raise_error=True)
    assert reader.value == [b"1"]  # sent first, in the same round trip
    assert len(round_trips) == 1


def test_any_later_command_sends_what_waits_first(store, round_trips, under_gevent):
    sender = gevent.spawn(store.send, lambda pipe: pipe.execute_command(
        "SET", "test:store:k", "1"))
    gevent.sleep(0)  # the sender queues its notice and waits for it to go
    assert store.call(store.client.get, "test:store:k") == b"1"
    sender.join(timeout=10)
    assert sender.successful()


def test_a_notice_to_a_redis_that_is_away_is_logged_not_raised(own_redis, caplog):
    away = RedisStore(connection_pool(config.from_env({"REDIS_URL": own_redis.url}), 2),
                      "test:store:")
    own_redis.kill()
    away.send(lambda pipe: pipe.execute_command("SET", "test:store:k", "1"))
    assert "change notice commands not sent" in caplog.text
    with pytest.raises(StoreUnavailable):
        away.pipelined(lambda pipe: pipe.execute_command("GET", "test:store:k"))


def test_a_round_trip_sends_each_argument_as_redis_would_get_it(store):
    [reply] = store.pipelined(lambda pipe: pipe.execute_command(
        "EVAL", "return {ARGV[1], ARGV[2], ARGV[3], ARGV[4]}", 0, "é", 42, b"\x00\xff", ""))
    assert reply == ["é".encode(), b"42", b"\x00\xff", b""]


def test_an_error_reply_fails_its_command_and_leaves_the_connection_in_step(store):
    store.client.set("test:store:k", "text")
    with pytest.raises(StoreUnavailable, match="WRONGTYPE"):
        store.pipelined(lambda pipe: (pipe.execute_command("INCR", "test:store:x"),
                                      pipe.execute_command("LPUSH", "test:store:k", "1")))
    [value] = store.pipelined(lambda pipe: pipe.execute_command("GET", "test:store:k"))
    assert value == b"text"  # the next round trip reads its own reply, not a stale one
    store.client.delete("test:store:x")
