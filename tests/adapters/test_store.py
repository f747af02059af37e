"""The Redis connection's commands whose replies nobody reads (change notices): under gevent
the ones sent together share one round trip, with another greenlet's command when one goes
first; elsewhere they go at once; a Redis that is away costs a log line, never the request.
Only an outage (a connection or a timeout error, or the error reply of a server that cannot
take writes) sends the service to the database for a while; a command Redis refuses is a
bug: logged, counted, and raised to its caller alone."""

import re

import gevent
import pytest
import redis

import config
from scoreboard.adapters.blocklist import RedisBlocklist
from scoreboard.adapters.store import RedisStore, StoreUnavailable, connection_pool

from ..harness.meters import redis_errors

# Long enough that a store marked down stays so for the rest of a test, however slow.
RETRY_AFTER = 600


@pytest.fixture
def store(redis_url):
    settings = config.from_env({"REDIS_URL": redis_url, "REDIS_SOCKET_TIMEOUT_SECONDS": "15"})
    made = RedisStore.on_pool(connection_pool(settings, 4), "test:store:", RETRY_AFTER)
    made.client.delete("test:store:k")
    yield made
    made.client.delete("test:store:k")
    made.close()


def test_without_gevent_a_notice_goes_at_once(store, round_trips):
    store.send(lambda batch: batch.command("SET", "test:store:k", "1"))
    assert len(round_trips) == 1
    assert store.client.get("test:store:k") == b"1"


def test_under_gevent_notices_sent_together_share_a_round_trip(store, round_trips,
                                                               under_gevent):
    senders = [gevent.spawn(store.send, lambda batch: batch.command(
        "SET", "test:store:k", "1")), gevent.spawn(store.send, lambda batch: batch.command(
            "APPEND", "test:store:k", "2"))]
    gevent.joinall(senders, raise_error=True)
    assert len(round_trips) == 1  # both in one pipeline, in the order given
    assert store.client.get("test:store:k") == b"12"


def test_under_gevent_a_notice_rides_with_another_greenlets_command(store, round_trips,
                                                                    under_gevent):
    sender = gevent.spawn(store.send, lambda batch: batch.command(
        "SET", "test:store:k", "1"))
    reader = gevent.spawn(store.pipelined, lambda batch: batch.command(
        "GET", "test:store:k"))
    gevent.joinall([sender, reader], raise_error=True)
    assert reader.value == [b"1"]  # sent first, in the same round trip
    assert len(round_trips) == 1


def test_any_later_command_sends_what_waits_first(store, round_trips, under_gevent):
    sender = gevent.spawn(store.send, lambda batch: batch.command(
        "SET", "test:store:k", "1"))
    gevent.sleep(0)  # the sender queues its notice and waits for it to go
    assert store.command("GET", "test:store:k") == b"1"
    sender.join(timeout=10)
    assert sender.successful()


def test_a_notice_to_a_redis_that_is_away_is_logged_not_raised(own_redis, caplog):
    away = RedisStore.on_pool(connection_pool(config.from_env({"REDIS_URL": own_redis.url}), 2),
                      "test:store:")
    own_redis.kill()
    away.send(lambda batch: batch.command("SET", "test:store:k", "1"))
    assert "change notice commands not sent" in caplog.text
    with pytest.raises(StoreUnavailable):
        away.pipelined(lambda batch: batch.command("GET", "test:store:k"))


def test_a_round_trip_sends_each_argument_as_redis_would_get_it(store):
    [reply] = store.pipelined(lambda batch: batch.command(
        "EVAL", "return {ARGV[1], ARGV[2], ARGV[3], ARGV[4]}", 0, "é", 42, b"\x00\xff", ""))
    assert reply == ["é".encode(), b"42", b"\x00\xff", b""]


def test_a_bad_argument_is_a_bug_not_an_outage(store, caplog):
    before = redis_errors(kind="DataError")
    with pytest.raises(redis.DataError):
        RedisBlocklist(store).is_revoked(None)  # what a token without jti once asked
    assert redis_errors(kind="DataError") == before + 1
    assert "redis refused a command (DataError)" in caplog.text
    assert store.command("PING") is True  # not "redis recently failed"
    assert store.answers()


@pytest.mark.parametrize("reply", ["READONLY You can't write against a read only replica.",
                                   "OOM command not allowed when used memory > 'maxmemory'."])
def test_an_error_reply_of_a_server_that_cannot_take_writes_is_an_outage(store, reply):
    """A replica after a failover, or a full server: the service degrades as when Redis is
    away, instead of failing requests."""
    script = f"return redis.error_reply({reply!r})"
    with pytest.raises(StoreUnavailable, match=re.escape(reply.split(" ", 1)[1])):
        store.pipelined(lambda batch: batch.command("EVAL", script, 0))
    with pytest.raises(StoreUnavailable, match="redis recently failed"):
        store.command("PING")


def test_a_redis_that_cannot_be_reached_is_left_alone_for_a_while(own_redis):
    settings = config.from_env({"REDIS_URL": own_redis.url})
    store = RedisStore.on_pool(connection_pool(settings, 2), "test:store:", RETRY_AFTER)
    assert store.answers()
    own_redis.kill()
    with pytest.raises(StoreUnavailable, match="(?i)connect"):
        store.command("PING")
    own_redis.start()  # back on the same port, but this store does not ask it yet
    with pytest.raises(StoreUnavailable, match="redis recently failed"):
        store.command("PING")
    assert not store.answers()
    store.close()
