"""The stream tickets' store (adapters/stream_tickets.py), in Redis and in the process: a
ticket holds its record until it is taken once or expires, and of many takers racing for
one ticket exactly one gets it."""

import threading
import uuid

import pytest

import config
from scoreboard.adapters.redis_port import StoreUnavailable
from scoreboard.adapters.store import RedisStore, connection_pool
from scoreboard.adapters.stream_tickets import MemoryStreamTickets, RedisStreamTickets

RECORD = '{"sub": "alice", "view": "group:crew"}'


def redis_store(url: str) -> RedisStore:
    settings = config.from_env({"REDIS_URL": url, "REDIS_SOCKET_TIMEOUT_SECONDS": "15"})
    return RedisStore.on_pool(connection_pool(settings, 20), f"test:tickets:{uuid.uuid4().hex[:8]}:",
                      retry_after=600)


@pytest.fixture(params=["redis", "memory"])
def tickets(request):
    if request.param == "memory":
        yield MemoryStreamTickets()
        return
    store = redis_store(request.getfixturevalue("redis_url"))
    yield RedisStreamTickets(store)
    store.delete(*store.scan(store.key("*")))
    store.close()


def test_a_ticket_is_taken_once(tickets):
    ticket = tickets.issue(RECORD, 30)
    assert len(ticket) == 43 and ticket != tickets.issue(RECORD, 30)
    assert tickets.take(ticket) == RECORD
    assert tickets.take(ticket) is None
    assert tickets.take("x" * 43) is None


def test_of_many_racing_for_a_ticket_exactly_one_has_it(tickets):
    for _ in range(20):
        ticket = tickets.issue(RECORD, 30)
        ready = threading.Barrier(8)
        taken = []

        def take():
            ready.wait()
            taken.append(tickets.take(ticket))

        racers = [threading.Thread(target=take) for _ in range(8)]
        for racer in racers:
            racer.start()
        for racer in racers:
            racer.join()
        assert sorted(taken, key=str) == [None] * 7 + [RECORD]


def test_a_ticket_in_memory_expires_on_its_clock():
    now = [100.0]
    tickets = MemoryStreamTickets(clock=lambda: now[0])
    kept, lapsed = tickets.issue(RECORD, 30), tickets.issue(RECORD, 30)
    now[0] = 129.9
    assert tickets.take(kept) == RECORD
    now[0] = 130.0
    assert tickets.take(lapsed) is None


def test_expired_tickets_in_memory_are_dropped_as_more_are_issued():
    now = [0.0]
    tickets = MemoryStreamTickets(clock=lambda: now[0])
    for _ in range(tickets.PRUNE_ABOVE + 1):
        tickets.issue(RECORD, 30)
    now[0] = 31.0
    fresh = tickets.issue(RECORD, 30)
    assert len(tickets._held) == 1 and tickets.take(fresh) == RECORD


def test_a_ticket_in_redis_expires_with_its_key(redis_url):
    store = redis_store(redis_url)
    try:
        ticket = RedisStreamTickets(store).issue(RECORD, 30)
        assert 0 < store.client.ttl(store.key(f"stream-ticket:{ticket}")) <= 30
    finally:
        store.delete(*store.scan(store.key("*")))
        store.close()


def test_while_redis_is_away_tickets_are_unavailable(own_redis):
    store = redis_store(own_redis.url)
    tickets = RedisStreamTickets(store)
    ticket = tickets.issue(RECORD, 30)
    own_redis.kill()
    with pytest.raises(StoreUnavailable):
        tickets.issue(RECORD, 30)
    with pytest.raises(StoreUnavailable):
        tickets.take(ticket)
    store.close()
