"""PostgreSQL cuts the worker's connections while players score (a failover, a restart, a
proxy that drops idle connections): every acknowledged update counts exactly once."""

import threading
from collections import Counter

import psycopg2
import pytest
from sqlalchemy import func, select

from scoreboard.auth import issue_token
from scoreboard.extensions import db
from scoreboard.models import AuditEvent, User

from .harness.players import Player, token_for
from .harness.servers import call
from .harness.waiting import wait_for

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
