"""The tables' upkeep (`flask scoreboard maintain`, and each worker's timer): day partitions
ready ahead of the app's clock, ticket partitions dropped once no replay, cooldown or daily
limit can ask for their tickets, one instance at a time; on SQLite, the same tickets
deleted. On a PostgreSQL database of this module's own, as it adds and drops partitions."""

import uuid
from datetime import datetime, timedelta

import gevent
import psycopg2
import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select, text

from scoreboard import create_app
from scoreboard.core import clock
from scoreboard.core.errors import ApiError
from scoreboard.data import partitions
from scoreboard.data.db import db
from scoreboard.data.models import ActionTicket, ActionType
from scoreboard.live import current_hub
from scoreboard.play import actions, scoring, upkeep

from ..conftest import base_config
from ..harness.databases import create_database, drop_database
from ..harness.waiting import wait_for

AHEAD = 3


@pytest.fixture(scope="module")
def own_database(request):
    request.getfixturevalue("database_url")  # fails or skips when PostgreSQL is missing
    name = f"scoreboard_upkeep_{uuid.uuid4().hex[:8]}"
    url = create_database(name, durable=False)
    try:
        app = create_app(base_config(url, None))
        with app.app_context():
            upgrade()
            actions.seed_catalog()
            db.engine.dispose()
        yield url
    finally:
        drop_database(name)


@pytest.fixture
def upkept(backend, make_app, request):
    """An app whose clock the test sets (``app.config["CLOCK"]``), on ``backend``."""
    made = []

    def make(**overrides):
        config = {"PARTITION_DAYS_AHEAD": AHEAD, **overrides}
        if backend == "embedded":
            app = make_app("embedded", **config)
        else:
            app = create_app(base_config(request.getfixturevalue("own_database"), None,
                                         **config))
        made.append(app)
        return app

    yield make
    for app in made:
        with app.app_context():
            db.engine.dispose()


def far_day(days_ahead: int) -> datetime:
    """Noon of a day this far from the real today: beyond what the migration made, on any
    date the suite runs, and apart for each test."""
    today = clock.system_now().replace(hour=12, minute=0, second=0, microsecond=0)
    return today + timedelta(days=days_ahead)


def at(app, moment: datetime) -> None:
    app.config["CLOCK"] = lambda: moment


def maintain(app) -> list[str]:
    with app.app_context():
        return upkeep.maintain()


def partition_names(app, table: str) -> set:
    with app.app_context(), db.engine.connect() as connection:
        return {p.name for p in partitions.partitions(connection, table)}


def days(table: str, first: datetime, count: int) -> set:
    return {f"{table}_p{first + timedelta(days=n):%Y%m%d}" for n in range(count)}


def created(done: list[str]) -> list[str]:
    # (Seen from the app's clock, far ahead, the tickets of the days the migration made are
    # past their use too: the same run drops them.)
    return [line for line in done if line.startswith("created ")]


def start_and_complete(app, user_id: str):
    with app.app_context():
        ticket = actions.start_action({"sub": user_id}, "click")
        scoring.complete_action(scoring.Attempt(user_id, ticket.id))
        unspent = actions.start_action({"sub": user_id}, "click")
    return ticket.id, unspent.id


def replay(app, user_id: str, ticket_id: str):
    """What a repeat of the ticket's update answers: its score, or the refusal."""
    with app.app_context():
        try:
            return scoring.complete_action(scoring.Attempt(user_id, ticket_id))
        except ApiError as refused:
            return refused.description


@pytest.mark.parametrize("backend", ["postgres"])
def test_the_days_ahead_are_added_once_and_rows_move_out_of_the_default(upkept):
    app = upkept()
    day = far_day(400)
    at(app, day + timedelta(days=1))
    ticket, _ = start_and_complete(app, "ann")  # no partition has this day yet
    at(app, day)
    done = maintain(app)
    for table in partitions.PARTITIONED:
        assert days(table, day, AHEAD + 1) <= partition_names(app, table)
    assert len(created(done)) == 2 * (AHEAD + 1)
    with app.app_context():
        home = db.session.scalar(text(
            "SELECT tableoid::regclass::text FROM action_tickets WHERE id = :id"), {"id": ticket})
    assert home == f"action_tickets_p{day + timedelta(days=1):%Y%m%d}"
    assert maintain(app) == ["nothing to do: every partition is in place"]


@pytest.mark.parametrize("backend", ["postgres"])
def test_a_ticket_partition_goes_once_a_replay_can_no_longer_ask_for_it(upkept):
    app = upkept()
    day = far_day(500)
    at(app, day)
    maintain(app)
    spent, unspent = start_and_complete(app, "ben")
    score = replay(app, "ben", spent)
    # The day's tickets expire by its end plus the longest life a ticket gets (the TTL and
    # the catalog's longest minimum duration), and are kept a replay window after that.
    with app.app_context():
        life = app.config["TICKET_TTL_SECONDS"] + db.session.scalar(
            select(func.max(ActionType.min_seconds)))
    last_use = day.replace(hour=0) + timedelta(
        days=1, seconds=life + app.config["TICKET_REPLAY_SECONDS"])
    at(app, last_use - timedelta(seconds=1))
    assert f"dropped action_tickets_p{day:%Y%m%d}" not in maintain(app)
    assert replay(app, "ben", spent) == score
    at(app, last_use)
    assert f"dropped action_tickets_p{day:%Y%m%d}" in maintain(app)
    assert replay(app, "ben", spent) == scoring.REFUSALS["unknown"][1]
    assert replay(app, "ben", unspent) == scoring.REFUSALS["unknown"][1]
    # The audit log keeps every day: it is the proof of the scores.
    assert f"audit_events_p{day:%Y%m%d}" in partition_names(app, "audit_events")


@pytest.mark.parametrize("backend", ["postgres"])
def test_one_instance_at_a_time_does_the_upkeep(upkept, own_database):
    app = upkept()
    at(app, far_day(600))
    other = psycopg2.connect(own_database)  # another instance, maintaining
    try:
        with other.cursor() as cur:
            cur.execute("SELECT pg_try_advisory_lock(%s)", (partitions.CLUSTER_LOCK,))
        busy = "another instance is maintaining the partitions: nothing done here"
        assert maintain(app) == [busy]
        # The other instance is done, and says so: a closed session's lock is let go only
        # once its backend has ended, which a busy machine may delay.
        with other.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s)", (partitions.CLUSTER_LOCK,))
    finally:
        other.close()
    assert len(created(maintain(app))) == 2 * (AHEAD + 1)


@pytest.mark.parametrize("backend", ["embedded"])
def test_on_sqlite_tickets_past_their_use_are_deleted(upkept):
    app = upkept()
    day = far_day(30)
    at(app, day)
    spent, unspent = start_and_complete(app, "cat")
    at(app, day + timedelta(days=1))
    fresh, _ = start_and_complete(app, "cat")
    # The replay window (a day) later: the first day's tickets expired before it began,
    # the second day's after.
    at(app, day + timedelta(days=2))
    assert maintain(app)[1].startswith("deleted 2 tickets")
    with app.app_context():
        kept = set(db.session.scalars(select(ActionTicket.id)))
    assert spent not in kept and unspent not in kept and fresh in kept


@pytest.mark.parametrize("backend", ["postgres"])
def test_each_worker_runs_the_upkeep_on_a_timer(upkept):
    app = upkept(MAINTAIN_INTERVAL_SECONDS=1)
    day = far_day(700)
    at(app, day)
    timer = upkeep.Upkeep(app)
    timer.start()

    def added():
        gevent.sleep(0.05)  # the timer's greenlet runs while this one sleeps
        return days("audit_events", day, AHEAD + 1) <= partition_names(app, "audit_events")

    try:
        wait_for(added, "the timer to add the days ahead")
    finally:
        timer.stop()


@pytest.mark.parametrize("backend", ["embedded"])
def test_the_workers_hub_starts_and_stops_the_upkeep_create_app_hands_it(upkept):
    app = upkept(MAINTAIN_INTERVAL_SECONDS=1)
    day = far_day(40)
    at(app, day)
    spent, _ = start_and_complete(app, "dan")
    at(app, day + timedelta(days=2))
    hub = current_hub(app)
    hub.start()  # as gunicorn.conf.py's post_worker_init does in each worker

    def gone():
        gevent.sleep(0.05)
        with app.app_context():
            return db.session.get(ActionTicket, spent) is None

    try:
        wait_for(gone, "the worker's upkeep to delete the tickets past their use")
    finally:
        hub.stop()
