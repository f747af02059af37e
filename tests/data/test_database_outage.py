"""PostgreSQL cuts the worker's connections while players score (a failover, a restart, a
proxy that drops idle connections): every acknowledged update counts exactly once."""

import logging
import threading
from collections import Counter
from contextlib import contextmanager

import psycopg2
import pytest
from sqlalchemy import func, select

from scoreboard.data.db import AUTOCOMMIT, db
from scoreboard.data.models import AuditEvent, User
from scoreboard.identity.auth import issue_token

from ..harness.players import Player, token_for
from ..harness.servers import call
from ..harness.waiting import wait_for

PLAYERS = ("ann", "ben", "cat", "dan")
APP_NAME = "outage-test"


def terminate_connections(database_url) -> int:
    """End every connection the server holds; returns how many there were."""
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) "
                    "FROM pg_stat_activity WHERE application_name = %s", (APP_NAME,))
        (ended,) = cur.fetchone()
    conn.close()
    return ended


def test_updates_survive_terminated_database_connections(serve, redis_url, database_url):
    start, app = serve
    server = start(redis_url, WEB_CONCURRENCY="2",
                   DATABASE_URL=f"{database_url}?application_name={APP_NAME}")
    tokens = {p: token_for(app, p) for p in PLAYERS}
    acknowledged = Counter()  # player -> updates answered 200
    statuses = Counter()
    done = threading.Event()

    def play(user_id):
        token = tokens[user_id]
        while not done.is_set():
            status, ticket, _ = call("POST", server.url + "/api/actions/start",
                                     {"actionType": "click"},
                                     {"Authorization": f"Bearer {token}"})
            statuses[status] += 1
            if status != 201:
                continue
            # A client retries the same ticket until it has an answer: at most once counted.
            body = {"userId": user_id, "authToken": token, "actionId": ticket["actionId"]}
            for _ in range(20):
                status, reply, _ = call("POST", server.url + "/api/scores/update", body)
                statuses[status] += 1
                if status == 200:
                    acknowledged[user_id] += 1
                    break

    threads = [threading.Thread(target=play, args=(p,)) for p in PLAYERS]
    for thread in threads:
        thread.start()
    ended = 0
    try:
        for _ in range(5):
            target = sum(acknowledged.values()) + 30
            wait_for(lambda: sum(acknowledged.values()) >= target, "30 more acknowledged updates",
                     timeout=120, show=lambda: dict(statuses))
            ended += terminate_connections(database_url)
        wait_for(lambda: sum(acknowledged.values()) >= target + 30,
                 "updates after the last cut", timeout=120, show=lambda: dict(statuses))
    finally:
        done.set()
        for thread in threads:
            thread.join()

    assert ended >= 5, "the server held no connections to cut"
    assert set(statuses) <= {200, 201, 503}, dict(statuses)
    with app.app_context():
        scores = dict(db.session.execute(select(User.id, User.score)).all())
        accepted = dict(db.session.execute(
            select(AuditEvent.user_id, func.count()).where(AuditEvent.outcome == "accepted")
            .group_by(AuditEvent.user_id)).all())
    assert scores == dict(acknowledged) == accepted
    verified = app.test_cli_runner().invoke(args=["scoreboard", "verify"])
    assert verified.exit_code == 0 and "0 mismatches" in verified.output, verified.output


def cut_every_connection(database_url) -> None:
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) "
                    "FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        assert cur.fetchone()[0] >= 1
    conn.close()


@pytest.mark.parametrize("path", ["start", "update"])
def test_a_write_meeting_a_dead_pooled_connection_retries_once_on_a_new_one(
        make_app, database_url, path):
    """Every pooled connection cut at once (a database restart): the next write meets a
    dead connection, retires the whole pool and succeeds on its one retry."""
    app = make_app("postgres")
    client = app.test_client()
    with app.app_context():
        alice = Player("alice", issue_token("alice"), client)
    assert alice.complete(alice.start().json["actionId"]).status_code == 200
    if path == "start":
        cut_every_connection(database_url)
    started = alice.start()
    assert started.status_code == 201, started.json
    if path == "update":
        cut_every_connection(database_url)
    completed = alice.complete(started.json["actionId"])
    assert completed.status_code == 200 and completed.json["updatedScore"] == 2


@pytest.mark.parametrize("method, path, role", [("PUT", "/api/users/me", None),
                                                ("GET", "/api/admin/audit", "admin")])
def test_a_ban_check_meeting_a_dead_pooled_connection_retries_once_on_a_new_one(
        make_app, database_url, method, path, role):
    """The check before a player's write, or an admin's request, is the request's first
    statement: a dead connection there costs a retry too, as in a view."""
    app = make_app("postgres")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token_for(app, 'alice', role=role)}"}
    body = {"displayName": "Al"} if method == "PUT" else None
    assert client.open(path, method=method, json=body, headers=headers).status_code == 200
    cut_every_connection(database_url)
    reply = client.open(path, method=method, json=body, headers=headers)
    assert reply.status_code == 200, reply.json


# -- A connection cut after a write has committed ---------------------------------------------

CUT = "cut-after-commit"


@contextmanager
def cut_when(database_url, statement: str):
    """While inside: each time ``statement`` (say ``UPDATE ON users``) runs, a trigger ends
    every other connection named CUT and waits until they are gone. The writing transaction
    then commits, and whatever next takes one of those connections from its pool, after
    the commit, meets a dead one."""
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(f"""
            CREATE FUNCTION cut_named() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_terminate_backend(pid, 5000) FROM pg_stat_activity
                WHERE application_name = '{CUT}' AND pid <> pg_backend_pid();
                RETURN NULL;
            END $$;
            CREATE TRIGGER cut_named AFTER {statement} FOR EACH STATEMENT
            EXECUTE FUNCTION cut_named()""")
    conn.close()
    try:
        yield
    finally:
        with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
            cur.execute(f"DROP TRIGGER cut_named ON {statement.split()[-1]};"
                        " DROP FUNCTION cut_named()")
        conn.close()


def name_pooled(engine, count: int) -> None:
    """Leave exactly ``count`` idle connections in the engine's pool, each named CUT."""
    engine.dispose()
    held = [engine.connect() for _ in range(count)]
    for connection in held:
        connection.exec_driver_sql(f"SET application_name = '{CUT}'")
        connection.commit()  # a SET rolled back would be undone
    for connection in held:
        connection.close()


@pytest.fixture
def league(make_app):
    """A PostgreSQL app in which alice has 1 point."""
    app = make_app("postgres")
    client = app.test_client()
    with app.app_context():
        alice = Player("alice", issue_token("alice", name="Alice"), client)
        admin = {"Authorization": f"Bearer {issue_token('root', role='admin')}"}
    assert alice.play() == 1
    return app, client, alice, admin


def hold_the_board(client) -> None:
    """This worker holds the board: a change must be announced to reach it."""
    assert client.get("/api/scores/top").json["topScores"][0]["score"] == 1


def adjust_across_a_cut(league, database_url, main_pool: int):
    """Adjust alice by 5 while the pooled connection the board version is taken on (and
    ``main_pool`` of the other pool's) are cut between the delta's write and its commit."""
    app, client, _, admin = league
    with app.app_context():
        name_pooled(db.engines[AUTOCOMMIT], 1)
        if main_pool:
            name_pooled(db.engine, main_pool)
    with cut_when(database_url, "UPDATE ON users"):
        return client.post("/api/admin/players/alice/adjust",
                           json={"delta": 5, "reason": "refund"}, headers=admin)


def assert_adjusted_once(league, reply):
    app, client, _, _ = league
    assert (reply.status_code, reply.json) == (200, {"userId": "alice", "score": 6})
    with app.app_context():
        assert db.session.get(User, "alice").score == 6
        assert db.session.scalar(select(func.count()).where(
            AuditEvent.outcome == "adjusted")) == 1
    assert client.get("/api/scores/top").json["topScores"][0]["score"] == 6
    verified = app.test_cli_runner().invoke(args=["scoreboard", "verify"])
    assert verified.exit_code == 0 and "0 mismatches" in verified.output, verified.output


def test_an_adjustment_whose_version_connection_is_cut_after_its_commit_counts_once(
        league, database_url, caplog):
    """The board version is taken after the commit, on the other pool's connection, which
    is dead: taking it again costs nothing, running the adjustment again would add it
    twice."""
    hold_the_board(league[1])
    reply = adjust_across_a_cut(league, database_url, main_pool=0)
    assert "database connection lost" in caplog.text  # the cut was met
    assert_adjusted_once(league, reply)


def test_an_adjustment_cut_after_its_commit_wherever_it_goes_next_counts_once(
        league, database_url, caplog):
    """Both pools cut: after its commit the act also meets a dead connection where it
    reads the player's place back for the rank sets, and the request runs again. The
    audit row's idempotency key tells the second run that the act is done. (No board is
    held here: refreshing one would meet the dead connection first, and leave it.)"""
    caplog.set_level(logging.INFO, logger="scoreboard")
    reply = adjust_across_a_cut(league, database_url, main_pool=2)
    assert_adjusted_once(league, reply)
    assert "repeated" in caplog.text  # the second run found the act done


def test_a_profile_change_cut_after_its_commit_still_reaches_the_board(
        league, database_url, caplog):
    """The same cut under a new display name: the change is announced (not lost to a
    second run that finds nothing left to change), so the next read shows it."""
    app, client, alice, _ = league
    hold_the_board(client)
    with app.app_context():
        name_pooled(db.engines[AUTOCOMMIT], 1)
    with cut_when(database_url, "UPDATE ON users"):
        reply = client.put("/api/users/me", json={"displayName": "Alicia"},
                           headers=alice.headers)
    assert "database connection lost" in caplog.text
    assert reply.status_code == 200 and reply.json["displayName"] == "Alicia"
    assert client.get("/api/scores/top").json["topScores"][0]["displayName"] == "Alicia"
