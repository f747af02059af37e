"""Migrations 0016 and 0017 keep the release before them working (expand, DESIGN.md,
"Operating it"): its statements, the call of its procedure included, run against the
database while the migrations run and after, and no row of before is lost or changed."""

import threading
import uuid
from datetime import timedelta

import psycopg2
import pytest
from flask_migrate import upgrade

from scoreboard import create_app
from scoreboard.core import clock
from scoreboard.core.errors import Forbidden
from scoreboard.data.db import db
from scoreboard.play import actions, scoring

from ..conftest import base_config
from ..harness.databases import create_database, drop_database
from ..harness.waiting import InBackground, wait_for

# The releases before 0016 and before 0019, word for word: their start of an action, and the
# calls their scoring made, of 0015's procedure and of 0017's.
PREVIOUS_START = """
WITH kind AS (SELECT id, points, min_seconds FROM action_types WHERE id = %(type)s AND enabled),
known AS (SELECT region, banned FROM users WHERE id = %(user)s FOR KEY SHARE),
player AS (
    INSERT INTO users (id, display_name, region, score, score_reached_at, created_at)
    SELECT %(user)s, %(name)s, %(region)s, 0, %(now)s, %(now)s FROM kind
    ON CONFLICT (id) DO NOTHING),
ticket AS (
    INSERT INTO action_tickets
        (id, user_id, action_type, points, created_at, not_before, expires_at)
    SELECT %(ticket)s, %(user)s, kind.id, kind.points, %(now)s,
           %(now)s + make_interval(secs => kind.min_seconds),
           %(now)s + make_interval(secs => kind.min_seconds + %(ttl)s)
    FROM kind WHERE NOT EXISTS (SELECT 1 FROM known WHERE banned)
    RETURNING points, not_before, expires_at)
SELECT ticket.points, ticket.not_before, ticket.expires_at,
       EXISTS (SELECT 1 FROM known) AS was_known, (SELECT region FROM known) AS known_region,
       EXISTS (SELECT 1 FROM known WHERE banned) AS banned
FROM (VALUES (1)) AS one LEFT JOIN ticket ON true
"""
PREVIOUS_CALL = (
    "CALL complete_action(%(ticket)s, %(user)s, %(now)s, %(day)s, %(week)s, %(midnight)s,"
    " %(request_id)s, %(client_ip)s, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
    " NULL)")
CALL_BEFORE_0019 = PREVIOUS_CALL.replace("complete_action", "complete_own_action")
# The rows a database of before holds.
LOADED = 20_000


def at_the_release_before(url: str, revision="0015"):
    """An app on the database ``url``, migrated to ``revision`` (by default the release
    before the partitions) with the action catalog."""
    app = create_app(base_config(url, None))
    with app.app_context():
        upgrade(revision=revision)
        actions.seed_catalog()
        db.engine.dispose()
    return app


@pytest.fixture
def database_before(request):
    """A database at 0015 with the rows of a while of play."""
    request.getfixturevalue("database_url")  # fails or skips when PostgreSQL is missing
    name = f"scoreboard_before_{uuid.uuid4().hex[:8]}"
    url = create_database(name, durable=False)
    try:
        app = at_the_release_before(url)
        load(url)
        yield app, url
    finally:
        drop_database(name)


def load(url) -> None:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO users SELECT 'p' || n, 'P', NULL, 0, now(), now()"
                    " FROM generate_series(1, 100) n")
        cur.execute(
            "INSERT INTO action_tickets SELECT 'old-' || n, 'p' || (mod(n, 100) + 1), 'click',"
            " 1, now() - n * interval '1 minute', now() - n * interval '1 minute',"
            " now() - n * interval '1 minute' + interval '15 minutes', NULL, NULL"
            " FROM generate_series(1, %s) n", (LOADED,))
        cur.execute(
            "INSERT INTO audit_events (at, user_id, action_type, ticket_id, delta, outcome)"
            " SELECT now() - n * interval '1 minute', 'p' || (mod(n, 100) + 1), 'click',"
            " 'old-' || n, 1, 'accepted' FROM generate_series(1, %s) n", (LOADED,))
    conn.close()


def fingerprint(url) -> tuple:
    """The rows of before, each in full, as one digest a table."""
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT md5(string_agg(t::text, ',' ORDER BY id)) FROM action_tickets t"
                    " WHERE id LIKE 'old-%'")
        tickets = cur.fetchone()[0]
        cur.execute(f"SELECT md5(string_agg(t::text, ',' ORDER BY id)) FROM audit_events t"
                    f" WHERE id <= {LOADED}")
        audit = cur.fetchone()[0]
    conn.close()
    return tickets, audit


class PreviousRelease:
    """The release before, playing in a thread of its own: each round starts an action,
    completes it, repeats the completion, and has another player try the ticket."""

    def __init__(self, url, call=PREVIOUS_CALL):
        self.call = call
        self.conn = psycopg2.connect(url)
        self.conn.autocommit = True
        self.answers = []
        self.rounds = 0
        self.stop = threading.Event()

    def play(self) -> None:
        with self.conn.cursor() as cur:
            while not self.stop.is_set():
                self._round(cur)
            self._round(cur)  # and once more, after the migrations

    def _round(self, cur) -> None:
        now = clock.system_now()
        ticket = f"new-{self.rounds}"
        cur.execute(PREVIOUS_START, {
            "type": "click", "user": "p1", "name": "P", "region": None, "now": now,
            "ticket": ticket, "ttl": 900})
        inputs = {"ticket": ticket, "now": now, "day": "day:x", "week": "week:x",
                  "midnight": now - timedelta(days=1), "request_id": None, "client_ip": None}
        for user in ("p1", "p1", "p2"):
            cur.execute(self.call, {**inputs, "user": user})
            outcome, refusal = cur.fetchone()[:2]
            self.answers.append(refusal or outcome)
        self.rounds += 1


def migrated_while_playing(app, previous: "PreviousRelease") -> int:
    """Migrate ``app``'s database to head while the release before plays, then stop it;
    the rounds it had played when the migration ended."""
    playing = InBackground(previous.play)
    wait_for(lambda: previous.rounds > 0, "the release before to play a round")

    def migrate():
        with app.app_context():
            upgrade()
            db.engine.dispose()

    try:
        InBackground(migrate).result(timeout=120)
        return previous.rounds
    finally:
        previous.stop.set()
        playing.result()
        previous.conn.close()


def test_the_release_before_keeps_playing_while_the_tables_are_partitioned(database_before):
    app, url = database_before
    before = fingerprint(url)
    previous = PreviousRelease(url)
    migrated_after = migrated_while_playing(app, previous)
    assert previous.answers == ["accepted", "replayed", "not_yours"] * previous.rounds
    assert previous.rounds > migrated_after  # a round on the partitioned tables, whole
    assert fingerprint(url) == before
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM action_tickets")
        assert cur.fetchone()[0] == LOADED + previous.rounds
        cur.execute("SELECT count(*), count(*) FILTER (WHERE outcome = 'replayed')"
                    " FROM audit_events")
        assert cur.fetchone() == (LOADED + 2 * previous.rounds, previous.rounds)
        cur.execute("SELECT relkind FROM pg_class WHERE relname = 'audit_events'")
        assert cur.fetchone()[0] == "p"
    conn.close()


@pytest.fixture
def database_before_0019(request):
    """A database at 0018: the release before the tickets' ids held their moment."""
    request.getfixturevalue("database_url")  # fails or skips when PostgreSQL is missing
    name = f"scoreboard_before_0019_{uuid.uuid4().hex[:8]}"
    url = create_database(name, durable=False)
    try:
        yield at_the_release_before(url, "0018"), url
    finally:
        drop_database(name)


def test_the_release_before_and_this_one_complete_each_others_tickets_over_0019(
        database_before_0019):
    app, url = database_before_0019
    previous = PreviousRelease(url, CALL_BEFORE_0019)
    migrated_after = migrated_while_playing(app, previous)
    # (0017's procedure leaves whether a ticket is another player's to its caller.)
    assert previous.answers == ["accepted", "replayed", "unknown"] * previous.rounds
    assert previous.rounds > migrated_after
    # A ticket the release before issued (its id has no moment) completes here, and one
    # issued here completes there.
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(PREVIOUS_START, {"type": "quiz", "user": "p1", "name": "P",
                                     "region": None, "now": clock.system_now(),
                                     "ticket": "t" * 32, "ttl": 900})
    conn.close()
    with app.app_context():
        app.config["CLOCK"] = lambda: clock.system_now() + timedelta(seconds=6)
        with pytest.raises(Forbidden):
            scoring.complete_action(scoring.Attempt("p2", "t" * 32))
        mine = scoring.complete_action(scoring.Attempt("p1", "t" * 32))
        ticket = actions.start_action({"sub": "p1"}, "click")
        db.engine.dispose()
    assert mine == 10 + previous.rounds
    conn = psycopg2.connect(url)
    conn.autocommit = True  # the procedure commits
    with conn.cursor() as cur:
        now = ticket.not_before  # the app's clock, six seconds ahead
        cur.execute(CALL_BEFORE_0019, {
            "ticket": ticket.id, "user": "p1", "now": now, "day": "day:x", "week": "week:x",
            "midnight": now - timedelta(days=1), "request_id": None, "client_ip": None})
        assert cur.fetchone()[:4] == ("accepted", None, "click", mine + 1)
    conn.close()
