"""An update reads only the day partitions of action_tickets that can hold what it looks for
(migration 0019): its ticket, by the whole key its id gives, in the one partition of its
day; a type's completions, from the type's longest ticket life before the cooldown or the
day up to now. Shown with EXPLAIN ANALYZE of the procedure's statements (the rules' steps, as
PL/pgSQL prepares them, with its inputs and facts as parameters), under both plans
PL/pgSQL may run them with: a custom one (pruned as it is planned) and a generic one
(pruned as it starts). And the life's record, which those bounds stand on, only grows."""

import re
import uuid
from datetime import timedelta

import psycopg2
import pytest
from flask_migrate import upgrade
from sqlalchemy import text

from scoreboard import create_app
from scoreboard.core import clock, ticket_ids
from scoreboard.core.errors import ApiError
from scoreboard.data import partitions, rules
from scoreboard.data.db import db
from scoreboard.play import actions, scoring

from ..conftest import base_config
from ..harness.databases import create_database, drop_database

DAYS = 5
TYPE, LIFE = "level", 30 + 900  # the catalog's: min_seconds 30, cooldown 60, 20 a day
PLANS = ("force_custom_plan", "force_generic_plan")
_NAME = re.compile(r"(?<![:\w]):(\w+)")
TYPES = dict(rules.INPUTS + rules.facts())


@pytest.fixture(scope="module")
def days(request):
    """A database with DAYS day partitions of tickets after the partition of the past
    (migration 0016's, up to the day after tomorrow), and a completed ticket of a player's
    at noon of each: its URL and the partitions' starts."""
    request.getfixturevalue("database_url")  # fails or skips when PostgreSQL is missing
    name = f"scoreboard_pruning_{uuid.uuid4().hex[:8]}"
    url = create_database(name, durable=False)
    try:
        app = create_app(base_config(url, None))
        with app.app_context():
            upgrade()
            actions.seed_catalog()
            with db.engine.connect() as connection:
                [first] = [p.end for p in partitions.partitions(connection, "action_tickets")
                           if p.start is None and p.end is not None]
                starts = [first + timedelta(days=n) for n in range(DAYS)]
                for start in starts:
                    assert partitions.add_day(connection, "action_tickets", start.date())
                connection.execute(text(
                    "INSERT INTO users (id, display_name, score, score_reached_at, created_at)"
                    " VALUES ('p1', 'P', 0, :t, :t)"), {"t": first})
                for start in starts:
                    noon = start + timedelta(hours=12)
                    connection.execute(text(
                        "INSERT INTO action_tickets (id, user_id, action_type, points,"
                        " created_at, not_before, expires_at, completed_at, score_after)"
                        " VALUES (:id, 'p1', :type, 50, :noon, :noon, :noon, :done, 50)"), {
                            "id": ticket_ids.new(noon), "type": TYPE, "noon": noon,
                            "done": noon + timedelta(seconds=60)})
                connection.commit()
            db.engine.dispose()
        yield url, starts
    finally:
        drop_database(name)


def scanned(url: str, sql: str, values: dict) -> dict:
    """The partitions that EXPLAIN ANALYZE shows ``sql`` (a rule's, ``:name`` for its
    inputs and facts) reading, under each plan."""
    names = list(dict.fromkeys(_NAME.findall(sql)))
    numbered = _NAME.sub(lambda m: f"${names.index(m[1]) + 1}", sql)
    found = {}
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(f"PREPARE step ({', '.join(TYPES[n] for n in names)}) AS {numbered}")
        for plan in PLANS:
            cur.execute(f"SET plan_cache_mode = {plan}")
            cur.execute("EXPLAIN (ANALYZE, COSTS OFF, FORMAT JSON) EXECUTE step ("
                        + ", ".join(["%s"] * len(names)) + ")", [values[n] for n in names])
            found[plan] = relations(cur.fetchone()[0][0]["Plan"])
        conn.rollback()
    conn.close()
    return found


def relations(node: dict) -> set:
    return ({node["Relation Name"]} if "Relation Name" in node else set()).union(
        *(relations(child) for child in node.get("Plans", ())))


def partition(start) -> str:
    return f"action_tickets_p{start:%Y%m%d}"


def everywhere(url) -> set:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT inhrelid::regclass::text FROM pg_inherits"
                    " WHERE inhparent = 'action_tickets'::regclass")
        found = {name for (name,) in cur.fetchall()}
    conn.close()
    return found


def step(**matching):
    [found] = [s for s in rules.STEPS
               if all(getattr(s, key, None) == value for key, value in matching.items())]
    return found


def test_the_ticket_is_looked_up_in_the_one_partition_of_its_day(days):
    url, starts = days
    ticket = step(missing="unknown")
    noon = starts[2] + timedelta(hours=12)
    values = {"user": "p1", "issued": noon}
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT id FROM action_tickets WHERE created_at = %s", (noon,))
        values["ticket"] = cur.fetchone()[0]
    conn.close()
    one = {plan: {partition(starts[2])} for plan in PLANS}
    assert scanned(url, ticket.sql + " FOR UPDATE", values) == one
    # A made-up moment finds its one day (or none) too; an id of the release before, which
    # holds no moment, is looked for everywhere.
    assert scanned(url, ticket.sql, {**values, "issued": starts[4]}) == {
        plan: {partition(starts[4])} for plan in PLANS}
    assert scanned(url, ticket.without_moment, values) == {
        plan: everywhere(url) for plan in PLANS}


def test_a_types_completions_are_read_from_its_longest_life_before_on(days):
    url, starts = days
    now = starts[3] + timedelta(hours=12, seconds=90)  # a minute after noon's completion
    values = {"user": "p1", "action_type": TYPE, "now": now, "cooldown_seconds": 60,
              "midnight": starts[3], "life": LIFE}
    cooldown = "SELECT " + step(code="cooling_down").when
    daily = "SELECT " + step(code="daily_limit").when
    # The cooldown looks back 60 s, and its tickets' life before: that day only.
    assert scanned(url, cooldown, values) == {plan: {partition(starts[3])} for plan in PLANS}
    # The day's completions: the tickets issued from LIFE before midnight on, two days.
    assert scanned(url, daily, {**values, "daily_limit": 20}) == {
        plan: {partition(starts[2]), partition(starts[3])} for plan in PLANS}
    # A type whose life is not recorded yet: every partition up to now's.
    up_to_now = {"action_tickets_history", *map(partition, starts[:4])}
    assert scanned(url, cooldown, {**values, "life": rules.UNKNOWN_LIFE}) == {
        plan: up_to_now for plan in PLANS}


def test_a_types_longest_life_only_grows(app):
    """A ticket issued while the type's min_seconds was longer is still found by the
    cooldown after min_seconds was lowered: the life recorded when it was issued stays."""
    start = clock.system_now()
    moment = {"now": start}
    app.config["CLOCK"] = lambda: moment["now"]
    with app.app_context():
        db.session.execute(text("UPDATE action_types SET min_seconds = 600 WHERE id = :t"),
                           {"t": TYPE})
        db.session.commit()
        long_lived = actions.start_action({"sub": "ann"}, TYPE)
        db.session.execute(text("UPDATE action_types SET min_seconds = 0 WHERE id = :t"),
                           {"t": TYPE})
        db.session.commit()
        moment["now"] = start + timedelta(seconds=1400)  # in the first ticket's life still
        assert scoring.complete_action(scoring.Attempt("ann", long_lived.id)) == 50
        moment["now"] += timedelta(seconds=10)
        short_lived = actions.start_action({"sub": "ann"}, TYPE)
        life = db.session.scalar(text(
            "SELECT longest_life_seconds FROM action_types WHERE id = :t"), {"t": TYPE})
        db.session.rollback()
        assert life == 600 + app.config["TICKET_TTL_SECONDS"]
        moment["now"] += timedelta(seconds=10)  # 20 s after the first completion
        with pytest.raises(ApiError) as refused:
            scoring.complete_action(scoring.Attempt("ann", short_lived.id))
    assert refused.value.description == "Action is cooling down."
