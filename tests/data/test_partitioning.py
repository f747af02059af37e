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
from scoreboard.data.db import db
from scoreboard.play import actions

from ..conftest import base_config
from ..harness.databases import create_database, drop_database
from ..harness.waiting import InBackground, wait_for

# The release before 0016, word for word: the call its scoring made of 0015's procedure
# (actions._START, its start of an action, is unchanged since).
PREVIOUS_CALL = (
    "CALL complete_action(%(ticket)s, %(user)s, %(now)s, %(day)s, %(week)s, %(midnight)s,"
    " %(request_id)s, %(client_ip)s, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
    " NULL)")
# The rows a database of before holds.
LOADED = 20_000


def at_the_release_before(url: str):
    """An app on the database ``url``, migrated to 0015 (the release before the partitions)
    with the action catalog."""
    app = create_app(base_config(url, None))
    with app.app_context():
        upgrade(revision="0015")
        actions.seed_catalog()
        db.engine.dispose()
    return app


@pytest.fixture
def database_before(request):
    """A database at 0015 with the rows of a while of play."""
    request.getfixturevalue("database_url")  # fails or skips when PostgreSQL is missing
    name = f"scoreboard_before_{uuid.uuid4().hex[:8]}"
    url = create_database(name)
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

    def __init__(self, url):
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
        cur.execute(actions._START, {
            "type": "click", "user": "p1", "name": "P", "region": None, "now": now,
            "ticket": ticket, "ttl": 900})
        inputs = {"ticket": ticket, "now": now, "day": "day:x", "week": "week:x",
                  "midnight": now - timedelta(days=1), "request_id": None, "client_ip": None}
        for user in ("p1", "p1", "p2"):
            cur.execute(PREVIOUS_CALL, {**inputs, "user": user})
            outcome, refusal = cur.fetchone()[:2]
            self.answers.append(refusal or outcome)
        self.rounds += 1


def test_the_release_before_keeps_playing_while_the_tables_are_partitioned(database_before):
    app, url = database_before
    before = fingerprint(url)
    previous = PreviousRelease(url)
    playing = InBackground(previous.play)
    wait_for(lambda: previous.rounds > 0, "the release before to play a round")

    def migrate():
        with app.app_context():
            upgrade()
            db.engine.dispose()

    try:
        InBackground(migrate).result(timeout=120)
        migrated_after = previous.rounds
    finally:
        previous.stop.set()
        playing.result()
        previous.conn.close()
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
