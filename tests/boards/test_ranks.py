"""Rank sets in Redis answer exactly as the database does, and heal after Redis trouble."""

import random
from datetime import datetime

import pytest
import redis

from scoreboard import adapters
from scoreboard.boards import ranks
from scoreboard.boards.views import View
from scoreboard.identity.auth import issue_token

from ..harness.players import Player, play

NOW = datetime(2026, 11, 30, 12)


@pytest.fixture(params=["postgres", "cluster"])  # one Redis, and a Redis Cluster
def crowd(make_app, request):
    return make_crowd(make_app, request.param)


def make_crowd(make_app, backend="postgres", **config):
    app = make_app(backend, **config)
    app.config["CLOCK"] = lambda: NOW
    rng = random.Random(7)
    client = app.test_client()
    users = [f"p{n:02}" for n in range(30)]
    for user_id in users:
        with app.app_context():
            token = issue_token(user_id, region=rng.choice(["DE", "FR"]))
        client.get("/api/users/me", headers={"Authorization": f"Bearer {token}"})
    for user_id in users:
        play(app, user_id, rng.randint(1, 4))
    return app, users


def both_ways(app, view, user_id):
    """(rank from the set, rank from the database) for one player."""
    with app.app_context():
        from_set = ranks._from_set(view, user_id)
        return from_set, ranks._from_database(view, user_id)


@pytest.mark.parametrize("view", [View(), View(region="DE"), View(window="day:2026-11-30"),
                                  View(window="week:2026-W49", region="FR")])
def test_sets_agree_with_the_database(crowd, view):
    app, users = crowd
    with app.app_context():
        ranks._from_set(view, users[0])  # the first look builds the set
    for user_id in users:
        from_set, from_db = both_ways(app, view, user_id)
        assert from_set is not None, f"{view.key}'s set did not answer: the database did"
        assert from_set == from_db, user_id


def test_a_restarted_redis_is_answered_by_the_database_then_rebuilt(crowd):
    app, users = crowd
    store = adapters.of(app).store
    with app.app_context():
        ranks._from_set(View(), users[0])
    store.client.delete(*adapters.of(app).rank_sets.keys("all"))  # as after a restart
    with app.app_context():
        first = ranks._from_set(View(), users[0])  # not answered, rebuilt meanwhile
        assert first is None
        assert ranks._from_set(View(), users[0]) == ranks._from_database(View(), users[0])


def test_writes_missed_in_an_outage_force_a_rebuild(make_app, own_redis):
    # A reply slower than a second counts as Redis down, as in production. A Redis of the
    # test's own: pausing the shared one would stall every other user of it.
    app, users = make_crowd(make_app, REDIS_URL=own_redis.url, REDIS_SOCKET_TIMEOUT_SECONDS=1)
    store = adapters.of(app).store
    store.retry_after = 0  # try Redis again at once once it answers
    with app.app_context():
        ranks._from_set(View(), users[0])
    # Redis stops taking writes for a moment: this worker's placement times out, so the set
    # misses a score. When the worker next reaches Redis, every set is marked incomplete.
    admin = redis.Redis.from_url(own_redis.url)
    admin.execute_command("CLIENT", "PAUSE", 5000, "WRITE")
    try:
        play(app, users[-1], 10)
    finally:
        admin.execute_command("CLIENT", "UNPAUSE")
        admin.close()
    with app.app_context():
        assert ranks._from_set(View(), users[-1]) is None
        assert ranks._from_set(View(), users[-1]) == ranks._from_database(View(), users[-1])


def test_moving_region_takes_the_player_out_of_the_old_regions_set(crowd):
    app, users = crowd
    client = app.test_client()
    user_id = users[0]
    with app.app_context():
        player = Player(user_id, issue_token(user_id), client)
        region = client.get("/api/users/me", headers=player.headers).json["region"]
        ranks._from_set(View(region=region), user_id)
    other = "FR" if region == "DE" else "DE"
    client.put("/api/users/me", json={"region": other}, headers=player.headers)
    for view in (View(region=region), View(region=other)):
        with app.app_context():
            ranks._from_set(view, user_id)  # rebuilt
        assert both_ways(app, view, user_id)[0] == both_ways(app, view, user_id)[1]
    assert both_ways(app, View(region=region), user_id)[0] == (0, None)


def test_verify_checks_the_rank_sets(crowd):
    app, users = crowd
    runner = app.test_cli_runner()
    with app.app_context():
        ranks._from_set(View(), users[0])  # build the global set
    assert runner.invoke(args=["scoreboard", "verify"]).exit_code == 0
    store = adapters.of(app).store
    store.client.zadd(adapters.of(app).rank_sets.keys("all")[0], {"0|0|intruder": 0})
    result = runner.invoke(args=["scoreboard", "verify"])
    assert result.exit_code == 1 and "MISMATCH rank set all" in result.output
    assert runner.invoke(args=["scoreboard", "rebuild-cache"]).exit_code == 0
    with app.app_context():
        ranks._from_set(View(), users[0])  # rebuilt on the next lookup
    assert runner.invoke(args=["scoreboard", "verify"]).exit_code == 0


def test_a_windows_rank_set_expires_after_the_window(crowd):
    app, users = crowd
    store = adapters.of(app).store
    day = adapters.of(app).rank_sets.keys("day:2026-11-30")[0]
    assert store.client.exists(day)  # placed by the crowd's plays, before any lookup
    # The app's clock says 2026-11-30 12:00: the day closes in 12 hours, and its set goes a
    # day after that, whatever Redis's own clock says the date is.
    lifetime = 36 * 3600
    assert lifetime - 120 < store.client.ttl(day) <= lifetime
    assert store.client.ttl(adapters.of(app).rank_sets.keys("all")[0]) == -1  # all time stays
