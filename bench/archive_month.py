"""How long `flask scoreboard archive` takes on a large audit log, and what `verify` and
`verify --since` cost before and after it.

A fresh database is migrated and given day partitions for ``--days`` days, then loaded
with COPY: ``--rows`` accepted events of ``--players`` players spread evenly over those
days, and ``--recent`` of ``--recent-players`` of them on the day after, and the users' and window scores they add up to
(so that verify finds nothing wrong). The app's clock stands on the day after the last. Then: verify, verify --since
(no checkpoint yet: every player), archive --before the last day (the ``--days``), verify, verify --since (the last day's players only), the table's size before and
after.

    .venv/bin/python bench/archive_month.py --rows 1000000 --days 1
    .venv/bin/python bench/archive_month.py --rows 1700000 --days 30 --recent 57000
"""

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
import uuid
from datetime import timedelta

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from flask_migrate import upgrade
from sqlalchemy import text

from bench.partition_lock import Lines
from scoreboard import create_app
from scoreboard.core import clock
from scoreboard.data.db import db
from scoreboard.play import actions, archive, proof, upkeep
from tests.conftest import base_config
from tests.harness.databases import create_database, drop_database


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000, help="events archived")
    parser.add_argument("--days", type=int, default=1, help="days archived")
    parser.add_argument("--recent", type=int, default=100_000,
                        help="events of the day after, which stay")
    parser.add_argument("--players", type=int, default=100_000)
    parser.add_argument("--recent-players", type=int, default=10_000,
                        help="the players of the day after")
    parser.add_argument("--profile", action="store_true", help="cProfile the archive")
    args = parser.parse_args()
    name = f"bench_archive_{uuid.uuid4().hex[:8]}"
    first = clock.system_now().replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(
        days=1000)
    days = args.days + 1  # the last day stays in the table
    app = create_app(base_config(create_database(name), None,
                                 PARTITION_DAYS_AHEAD=days + 1))
    try:
        with app.app_context():
            upgrade()
            actions.seed_catalog()
            app.config["CLOCK"] = lambda: first
            upkeep.maintain()
            started = time.perf_counter()
            load(args.rows, args.days, args.recent, (args.players, args.recent_players), first)
            print(f"loaded {args.rows} events of {args.players} players over {args.days} days"
                  f" and {args.recent} of {args.recent_players} of them on the day after,"
                  f" with COPY:"
                  f" {time.perf_counter() - started:.1f} s")
            app.config["CLOCK"] = lambda: first + timedelta(days=days, hours=12)
            size = table_size()
            measure("verify", lambda: proof.verify())
            measure("verify --since", lambda: proof.verify(since=True))
            with tempfile.TemporaryDirectory() as folder:
                path = os.path.join(folder, "archive.jsonl.gz")
                made = measure("archive", lambda: archive.archive(
                    (first + timedelta(days=args.days)).date(), path), args.profile)
                print(f"  {archive.describe(made)}")
                print(f"  file: {os.path.getsize(path) / 1e6:.1f} MB")
            measure("verify", lambda: proof.verify())
            measure("verify --since", lambda: proof.verify(since=True))
            print(f"audit_events with its indexes: {size / 1e6:.0f} MB before,"
                  f" {table_size() / 1e6:.0f} MB after")
            db.session.remove()
            db.engine.dispose()
    finally:
        drop_database(name)


def measure(what, run, profile=False):
    started = time.perf_counter()
    if profile:
        profiler = cProfile.Profile()
        result = profiler.runcall(run)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    else:
        result = run()
    took = time.perf_counter() - started
    if isinstance(result, proof.Report):
        assert not result.wrong, result.wrong[:5]
        print(f"{what}: {took:.2f} s ({result.players} players, {result.windows} windows)")
    else:
        print(f"{what}: {took:.2f} s")
    return result


def load(rows, days, recent, players, first):
    """The events, then what they add up to: users, day and week windows."""
    step, recent_step = days * 86400 / rows, 86400 / max(recent, 1)

    def event(n):
        at = first + (timedelta(seconds=n * step) if n < rows else
                      timedelta(days=days, seconds=(n - rows) * recent_step))
        player = n % players[0] if n < rows else n % players[1]
        return f"{n + 1}\t{at.isoformat()}\tp{player:07d}\tclick\tt{n}\t1\t\\N\taccepted\n"

    raw = db.session.connection().connection.cursor()
    raw.copy_expert("COPY audit_events (id, at, user_id, action_type, ticket_id, delta,"
                    " score_after, outcome) FROM STDIN", Lines(rows + recent, event))
    statements = [
        f"SELECT setval('audit_events_id_seq', {rows + recent + 1})",
        ("INSERT INTO users (id, display_name, score, score_reached_at, created_at)"
        " SELECT user_id, user_id, sum(delta), max(at), min(at) FROM audit_events"
        " GROUP BY user_id"),
        ("INSERT INTO window_scores (period, user_id, score, score_reached_at)"
        " SELECT 'day:' || to_char(at, 'YYYY-MM-DD'), user_id, sum(delta), max(at)"
        " FROM audit_events GROUP BY 1, user_id"),
        ("INSERT INTO window_scores (period, user_id, score, score_reached_at)"
        " SELECT 'week:' || to_char(at, 'IYYY-\"W\"IW'), user_id, sum(delta), max(at)"
        " FROM audit_events GROUP BY 1, user_id"),
        "ANALYZE",
    ]
    for statement in statements:
        db.session.execute(text(statement))
    db.session.commit()


def table_size() -> int:
    size = db.session.scalar(text(
        "SELECT coalesce(sum(pg_total_relation_size(inhrelid)), 0) FROM pg_inherits"
        " WHERE inhparent = 'audit_events'::regclass"))
    db.session.rollback()
    return int(size)


if __name__ == "__main__":
    main()
