"""Leaderboard views at scale: 1,000 vs 1,000,000 players in one run.

For each size it seeds a fresh PostgreSQL database (players spread over 20 regions, scores
in this week's and today's windows for some of them), builds the Redis rank sets, and times
through the app's own request handling (Flask's test client, no network):
/top for each view from the cache and from the database, a player's rank from the rank set
and from the database, and one score update (start + complete). It prints medians and the
ratio of the large size to the small one. Both sizes are prepared first, then every figure is
timed in rounds, the two sizes in turn, so a machine that slows down during the run slows
both alike.

    .venv/bin/python bench/views_scale.py --players 1000 1000000
"""

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402

from scoreboard import (
    adapters,  # noqa: E402
    create_app,
)
from scoreboard.boards import (
    ports,  # noqa: E402
    ranks,  # noqa: E402
)
from scoreboard.boards.views import View  # noqa: E402
from scoreboard.core import clock, periods
from scoreboard.data.db import db  # noqa: E402
from scoreboard.identity.auth import issue_token  # noqa: E402
from scoreboard.play.actions import seed_catalog  # noqa: E402
from tests.harness.databases import create_database, drop_database  # noqa: E402
from tests.harness.servers import RedisServer  # noqa: E402

REGIONS = ["DE", "FR", "US", "GB", "JP", "BR", "IN", "CA", "AU", "ES",
           "IT", "NL", "SE", "PL", "MX", "KR", "AR", "NO", "FI", "DK"]
VIEWS = {"all": "", "region": "?region=DE", "week": "?period=week", "day": "?period=day",
         "region+week": "?region=DE&period=week"}
RANK_VIEWS = [View(), View(region="DE")]


def seed(players: int) -> None:
    """Players with scores reached over the last month; a third played this week, a tenth
    today. Generated inside PostgreSQL: a million rows take seconds."""
    now = clock.now()
    day, week = periods.windows_of(now)
    regions = "ARRAY[" + ",".join(f"'{r}'" for r in REGIONS) + "]"
    statements = [
        f"""INSERT INTO users (id, display_name, region, score, score_reached_at, created_at)
            SELECT 'u' || i, 'Player ' || i, ({regions})[1 + i % {len(REGIONS)}],
                   1 + floor(random() * 100000)::int,
                   :now - random() * interval '30 days', :now - interval '31 days'
            FROM generate_series(1, {players}) AS i""",
        f"""INSERT INTO window_scores (period, user_id, score, score_reached_at, region)
            SELECT '{week}', id, 1 + floor(random() * 5000)::int,
                   :now - random() * interval '1 hour', region
            FROM users WHERE random() < 0.33""",
        f"""INSERT INTO window_scores (period, user_id, score, score_reached_at, region)
            SELECT '{day}', id, 1 + floor(random() * 500)::int,
                   :now - random() * interval '1 hour', region
            FROM users WHERE random() < 0.1""",
        "SELECT setval('board_version', 1)",
        "ANALYZE",
    ]
    for statement in statements:
        db.session.execute(db.text(statement), {"now": now})
    db.session.commit()


ROUNDS = 5  # each figure is taken in this many rounds, the two sizes in turn


def timed_ms(action, times: int) -> list[float]:
    samples = []
    for _ in range(times):
        began = time.perf_counter()
        action()
        samples.append(1000 * (time.perf_counter() - began))
    return samples


def prepare(players: int, own_redis):
    """A seeded database of ``players``, its app, and the actions each figure times, with
    how many samples it takes; plus the figures measured once, while preparing."""
    database = f"scoreboard_bench_views_{players}"
    url = create_database(database)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": own_redis.url,
                      "REDIS_PREFIX": f"bench{players}:", "JWT_SECRET_KEY": "b" * 40,
                      "RATELIMIT_IP": "10000000/minute", "RATELIMIT_START": "10000000/minute",
                      "RATELIMIT_UPDATE": "10000000/minute",
                      "RANK_REBUILD_IN_BACKGROUND": False, "LOG_LEVEL": "WARNING",
                      # Seeding a million players is one statement of minutes on a slow
                      # machine; the timed requests take milliseconds, far inside this.
                      "DATABASE_STATEMENT_TIMEOUT_MS": 600_000})
    client = app.test_client()
    once = {}
    with app.app_context():
        upgrade()
        seed_catalog()
        seed(players)
        began = time.perf_counter()
        for view in RANK_VIEWS:
            ranks.rebuild(view)
        once["rank sets built (s)"] = time.perf_counter() - began
        token = issue_token("bench-writer")
    store = adapters.of(app).store
    actions = {}
    for name, query in VIEWS.items():
        actions[f"/top {name}, cached (ms)"] = (
            lambda query=query: client.get(f"/api/scores/top{query}"), 200)

        def cold(query=query):
            store.client.delete(*store.client.keys(store.key("top:*")) or ["none"])
            ports(app).local.notice()  # as after a lost subscription
            client.get(f"/api/scores/top{query}")
        actions[f"/top {name}, from the database (ms)"] = (cold, 30)
    rng = random.Random(1)

    def rank_lookup(query=""):
        client.get(f"/api/scores/users/u{rng.randint(1, players)}{query}")
    actions["rank, from the Redis set (ms)"] = (rank_lookup, 300)
    actions["rank in region, from the Redis set (ms)"] = (lambda: rank_lookup("?region=DE"),
                                                          300)
    actions["rank, from the database (ms)"] = (lambda: _database_rank(app, rng, players), 30)
    headers = {"Authorization": f"Bearer {token}"}

    def update():
        ticket = client.post("/api/actions/start", json={"actionType": "click"},
                             headers=headers).json["actionId"]
        client.post("/api/scores/update", json={"userId": "bench-writer", "actionId": ticket},
                    headers=headers)
    actions["update: start + complete (ms)"] = (update, 200)

    def close():
        with app.app_context():
            db.engine.dispose()
        store.client.close()
        drop_database(database)  # a million players take a gigabyte
    return once, actions, close


def measure(sizes: list) -> list[dict]:
    """Each figure's median for each size. The sizes take turns, round after round, so the
    machine's drift over the run falls on both alike."""
    samples = [{name: [] for name in actions} for _, actions, _ in sizes]
    for _ in range(ROUNDS):
        for (_, actions, _), taken in zip(sizes, samples):
            for name, (action, times) in actions.items():
                taken[name] += timed_ms(action, max(1, times // ROUNDS))
    return [{**once, **{name: statistics.median(values) for name, values in taken.items()}}
            for (once, _, _), taken in zip(sizes, samples)]


def _database_rank(app, rng, players):
    with app.app_context():
        ranks._from_database(View(), f"u{rng.randint(1, players)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--players", type=int, nargs=2, default=[1000, 1_000_000])
    args = parser.parse_args()
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"views-bench-{os.getpid()}"
    tmp.mkdir(parents=True, exist_ok=True)
    own_redis = RedisServer(tmp).start()
    sizes = []
    try:
        for players in args.players:
            sizes.append(prepare(players, own_redis))
        small, large = measure(sizes)
    finally:
        for _, _, close in sizes:
            close()
        own_redis.kill()
    print(f"| figure | {args.players[0]:,} players | {args.players[1]:,} players | ratio |")
    print("|---|---|---|---|")
    for name in small:
        print(f"| {name} | {small[name]:.3g} | {large[name]:.3g} | "
              f"{large[name] / small[name]:.2f} |")


if __name__ == "__main__":
    main()
