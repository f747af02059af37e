"""How long migration 0016 (day partitions of the audit log and the tickets) blocks the
release still serving, on a large database.

A fresh database is migrated to 0015 and loaded with COPY: ``--rows`` audit events and as
many tickets, spread over 60 days, for 100,000 players. Then, while the release before
0016 plays without pause on a connection of its own (a start, its procedure's call as that
release makes it, a repeat), ``flask db upgrade`` runs to the newest revision. Reported:
the time of the whole migration and of its parts, the longest the migration held its
exclusive locks (pg_locks, sampled every 2 ms from a third connection, with the statement
the holder was running), and the longest
round of the release before against its median outside the migration.

    .venv/bin/python bench/partition_lock.py --rows 5000000
"""

import argparse
import io
import os
import statistics
import sys
import threading
import time
from collections import Counter
from datetime import timedelta

import psycopg2

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from flask_migrate import upgrade  # noqa: E402

from scoreboard.core import clock  # noqa: E402
from scoreboard.data.db import db  # noqa: E402
from tests.data.test_partitioning import (  # noqa: E402
    PREVIOUS_CALL,
    PREVIOUS_START,
    at_the_release_before,
)
from tests.harness.databases import create_database, drop_database  # noqa: E402

PLAYERS = 100_000
DAYS = 60


class Lines(io.RawIOBase):
    """A file of the lines ``make(n)`` for n in range(count), read by COPY as it goes."""

    def __init__(self, count, make):
        self.rows = iter(range(count))
        self.make = make
        self.left = b""

    def readable(self):
        return True

    def readinto(self, buffer):
        while len(self.left) < len(buffer):
            chunk = [self.make(n) for _, n in zip(range(10_000), self.rows, strict=False)]
            if not chunk:
                break
            self.left += "".join(chunk).encode()
        size = min(len(buffer), len(self.left))
        buffer[:size], self.left = self.left[:size], self.left[size:]
        return size


def load(url, rows: int) -> None:
    start = clock.system_now() - timedelta(days=DAYS)
    step = DAYS * 86400 / rows

    def when(n):
        return (start + timedelta(seconds=n * step)).isoformat(" ")

    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.copy_expert("COPY users FROM STDIN", Lines(
            PLAYERS, lambda n: f"p{n}\tP{n}\t\\N\t0\t{when(0)}\t{when(0)}\tf\tf\n"))
        cur.copy_expert(
            "COPY action_tickets (id, user_id, action_type, points, created_at, not_before,"
            " expires_at, completed_at, score_after) FROM STDIN", Lines(
                rows, lambda n: f"t{n}\tp{n % PLAYERS}\tclick\t1\t{when(n)}\t{when(n)}\t"
                f"{when(n + 900 / step)}\t{when(n)}\t1\n"))
        cur.copy_expert(
            "COPY audit_events (at, user_id, action_type, ticket_id, delta, score_after,"
            " outcome) FROM STDIN", Lines(
                rows, lambda n: f"{when(n)}\tp{n % PLAYERS}\tclick\tt{n}\t1\t1\taccepted\n"))
        cur.execute("ANALYZE")
    conn.close()


class Player(threading.Thread):
    """The release before 0016, playing one round after another; each round's time."""

    def __init__(self, url):
        super().__init__(daemon=True)
        self.conn = psycopg2.connect(url)
        self.conn.autocommit = True
        self.rounds = []  # (began, seconds)
        self.stop = threading.Event()

    def run(self):
        with self.conn.cursor() as cur:
            n = 0
            while not self.stop.is_set():
                began = time.monotonic()
                now = clock.system_now()
                cur.execute(PREVIOUS_START, {"type": "click", "user": "p1", "name": "P",
                                             "region": None, "now": now, "ticket": f"b{n}",
                                             "ttl": 900})
                for _ in range(2):
                    cur.execute(PREVIOUS_CALL, {
                        "ticket": f"b{n}", "user": "p1", "now": now, "day": "day:x",
                        "week": "week:x", "midnight": now - timedelta(days=1),
                        "request_id": None, "client_ip": None})
                self.rounds.append((began, time.monotonic() - began))
                n += 1


class LockWatch(threading.Thread):
    """When some backend held an ACCESS EXCLUSIVE lock on the tables the plays use."""

    def __init__(self, url):
        super().__init__(daemon=True)
        self.conn = psycopg2.connect(url)
        self.conn.autocommit = True
        self.seen = []
        self.statements = Counter()  # what the holder ran, at each sample
        self.stop = threading.Event()

    def run(self):
        with self.conn.cursor() as cur:
            while not self.stop.is_set():
                cur.execute("SELECT a.query FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
                            " WHERE l.granted AND l.mode = 'AccessExclusiveLock' AND"
                            " l.relation = 'users'::regclass")
                row = cur.fetchone()
                if row:
                    self.seen.append(time.monotonic())
                    self.statements[row[0][:70]] += 1
                time.sleep(0.002)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    args = parser.parse_args()
    name = f"bench_partition_{os.getpid()}"
    url = create_database(name)
    try:
        app = at_the_release_before(url)
        began = time.monotonic()
        load(url, args.rows)
        print(f"loaded {args.rows:,} audit events and {args.rows:,} tickets with COPY in"
              f" {time.monotonic() - began:.1f} s")
        player, watch = Player(url), LockWatch(url)
        player.start()
        watch.start()
        time.sleep(2)
        began = time.monotonic()
        with app.app_context():
            upgrade()
            db.engine.dispose()
        ended = time.monotonic()
        time.sleep(2)
        player.stop.set()
        watch.stop.set()
        player.join()
        watch.join()
        print(f"migration 0015 -> head: {ended - began:.1f} s")
        if watch.seen:
            print(f"exclusive locks held for about {1000 * (watch.seen[-1] - watch.seen[0]):.0f}"
                  f" ms ({len(watch.seen)} samples, every 2 ms); the holder was running:")
            for statement, samples in watch.statements.most_common(5):
                print(f"  {samples:4} samples  {statement}")
        outside = [s for t, s in player.rounds if t < began or t > ended]
        during = [s for t, s in player.rounds if began <= t <= ended]
        print(f"release before: {len(during)} rounds during the migration, longest"
              f" {1000 * max(during):.0f} ms; median outside it"
              f" {1000 * statistics.median(outside):.1f} ms, longest"
              f" {1000 * max(outside):.0f} ms")
    finally:
        drop_database(name)


if __name__ == "__main__":
    main()
