"""The board's order, its versions and its cache, exercised without HTTP."""

import threading
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text

from scoreboard import adapters, boards, create_app
from scoreboard.adapters.board_cache import MemoryBoardCache
from scoreboard.adapters.store import StoreUnavailable
from scoreboard.boards import leaderboard
from scoreboard.boards.leaderboard import Snapshot
from scoreboard.core import clock
from scoreboard.data.db import db

from ..conftest import base_config
from ..harness.players import play

# The same tests on a Redis Cluster too (conftest.py).
pytestmark = pytest.mark.backends("embedded", "postgres", "cluster")


def test_order_is_score_then_earliest_then_user_id(app):
    t0 = clock.system_now()
    play(app, "zed", 2, at=t0)
    play(app, "amy", 2, at=t0 + timedelta(seconds=1))
    play(app, "bob", 2, at=t0 + timedelta(seconds=1))  # same moment as amy: userId decides
    play(app, "cy", 3, at=t0 + timedelta(seconds=2))
    with app.app_context():
        entries = leaderboard.read_snapshot().entries
    assert [(e["userId"], e["score"], e["rank"]) for e in entries] == [
        ("cy", 3, 1), ("zed", 2, 2), ("amy", 2, 3), ("bob", 2, 4)]


def test_version_rises_with_each_change_at_the_top(app):
    with app.app_context():
        assert leaderboard.read_snapshot().version == 0
    play(app, "amy", 3)
    with app.app_context():
        assert leaderboard.read_snapshot().version == 3


def test_a_change_far_below_the_top_leaves_every_board_alone(app):
    now = datetime(2026, 11, 30, 12)
    for n in range(leaderboard.SNAPSHOT_SIZE):
        play(app, f"p{n:03}", 2, at=now)
    client = app.test_client()
    queries = ("?limit=100", "?period=day&limit=100", "?period=week&limit=100")
    boards = {q: client.get(f"/api/scores/top{q}").json["topScores"] for q in queries}
    broker = adapters.of(app).broker
    notices = []
    announce = broker.announce
    broker.announce = lambda version, views, *rest: (notices.append(views),
                                                     announce(version, views, *rest))
    play(app, "late", 1, at=now)  # below all hundred players on every board
    assert notices in ([], [[]])  # at most the rank sets' placement, no view named
    for query, rows in boards.items():  # and rightly so: the same boards
        assert client.get(f"/api/scores/top{query}").json["topScores"] == rows
    play(app, "late", 1, at=now)  # now level with them: may rank on the boards
    assert notices[-1] == ["all", "day:2026-11-30", "week:2026-W49"]


def test_cache_never_takes_an_older_snapshot(app):
    store = adapters.of(app).cache
    with app.app_context():
        assert store.put_top("all", 5, Snapshot(5, ()).to_json(), 60)
        assert not store.put_top("all", 4, Snapshot(4, ()).to_json(), 60)
        assert not store.put_top("all", 5, Snapshot(5, ({"userId": "x"},)).to_json(), 60)
        assert store.get_top("all").version == 5


def test_a_change_is_noted_beside_the_snapshot_until_a_newer_one_comes(app):
    store = adapters.of(app).cache
    with app.app_context():
        store.mark_changed(["all"], 3)  # no snapshot yet: nothing to note it on
        assert store.get_top("all") is None
        store.put_top("all", 5, Snapshot(5, ()).to_json(), 60)
        store.mark_changed(["all"], 7)
        store.mark_changed(["all"], 6)  # a late notice does not lower the mark
        cached = store.get_top("all")
        assert (cached.version, cached.changed, cached.stale) == (5, 7, True)
        assert Snapshot.from_json(cached.body) == Snapshot(5, ())  # still there to serve
        store.put_top("all", 7, Snapshot(7, ()).to_json(), 60)
        assert not store.get_top("all").stale


def test_concurrent_writers_leave_the_cache_at_the_newest_version(make_app):
    app = make_app("postgres")
    errors = []

    def writer(user_id):
        try:
            play(app, user_id, 15)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(f"u{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with app.app_context():
        truth = leaderboard.read_snapshot()
        cached = leaderboard.current_snapshot()
    assert truth.version == 8 * 15
    assert cached == truth


@pytest.mark.parametrize("backend", ["postgres"])
def test_no_write_waits_on_the_version(make_app, backend):
    """PostgreSQL's versions come from a sequence after the commit: a transaction holding
    the old version row (as every writer's did until migration 0008) blocks no one."""
    app = make_app(backend, DATABASE_LOCK_TIMEOUT_MS=2000)
    with app.app_context():
        holder = db.engine.connect()
        try:
            holder.execute(text("SELECT version FROM board_state FOR UPDATE"))
            assert play(app, "amy", 2) == 2
            assert leaderboard.read_snapshot().version == 2
        finally:
            holder.close()


@pytest.mark.parametrize("backend", ["postgres"])
def test_versions_carry_on_from_where_they_were_in_a_new_process(make_app, backend,
                                                                database_url, redis_url):
    play(make_app(backend), "amy", 3)
    # A new process on the same database (not reset, unlike make_app's) and an empty cache.
    again = create_app(base_config(database_url, redis_url))
    try:
        play(again, "bob")
        with again.app_context():
            assert leaderboard.read_snapshot().version == 4
    finally:
        with again.app_context():
            for engine in db.engines.values():
                engine.dispose()


def test_board_is_read_from_the_database_when_the_cache_fails(app):
    play(app, "amy", 2)

    class DeadCache(MemoryBoardCache):
        def get_top(self, view):
            raise StoreUnavailable("down")

    boards.init_app(app, replace(boards.ports(app), cache=DeadCache()))
    with app.app_context():
        snapshot = leaderboard.current_snapshot()
    assert [(e["userId"], e["score"]) for e in snapshot.entries] == [("amy", 2)]


@pytest.mark.parametrize("backend", ["postgres"])
def test_redis_down_then_back_rebuilds_from_the_database(make_app, own_redis, backend):
    # No copies in the worker's memory: this is about the shared cache.
    app = make_app(backend, REDIS_URL=own_redis.url, REDIS_RETRY_SECONDS=0,
                   TOP_LOCAL_MAX_AGE_SECONDS=0)
    play(app, "amy", 1)
    own_redis.kill()
    play(app, "bob", 3)  # the cache misses this: Redis is gone
    with app.app_context():
        assert leaderboard.current_snapshot().entries[0]["userId"] == "bob"
    own_redis.start()
    store = adapters.of(app).cache
    with app.app_context():
        snapshot = leaderboard.current_snapshot()
        assert snapshot == leaderboard.read_snapshot()
    assert store.get_top("all").version == snapshot.version


def test_a_process_never_serves_an_older_version_than_it_already_served(make_app, backend):
    app = make_app(backend, TOP_LOCAL_MAX_AGE_SECONDS=0)  # every read asks the shared cache
    play(app, "amy", 2)
    store = adapters.of(app).store
    with app.app_context():
        newest = leaderboard.current_snapshot()
        # A cache left behind by an outage: older than what this process has handed out.
        stale = Snapshot(newest.version - 1, newest.entries[:0])
        if store is not None:
            store.client.hset(adapters.of(app).cache.keys(["all"])[0],
                              mapping={"version": stale.version, "body": stale.to_json()})
        else:  # a cache that lost its state and was handed a stale snapshot
            cache = MemoryBoardCache()
            boards.init_app(app, replace(boards.ports(app), cache=cache))
            cache.put_top("all", stale.version, stale.to_json(), 60)
        assert leaderboard.current_snapshot() == newest
