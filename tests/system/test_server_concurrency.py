"""Concurrent writers against the real server (gunicorn + gevent, two workers, PostgreSQL)."""

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from scoreboard.data.db import db
from scoreboard.data.models import AuditEvent, User
from scoreboard.identity.auth import issue_token

from ..harness.servers import call
from ..harness.waiting import wait_for


def _play(server, token, user_id, rounds):
    """Start and complete ``rounds`` actions; returns the statuses of the updates."""
    headers = {"Authorization": f"Bearer {token}"}
    statuses = []
    for _ in range(rounds):
        status, ticket, _ = call("POST", server.url + "/api/actions/start",
                                 {"actionType": "click"}, headers)
        assert status == 201, ticket
        status, _, _ = call("POST", server.url + "/api/scores/update",
                            {"userId": user_id, "authToken": token,
                             "actionId": ticket["actionId"]})
        statuses.append(status)
    return statuses


def _accepted(app, user_id):
    with app.app_context():
        return db.session.scalar(
            select(func.count()).where(AuditEvent.user_id == user_id,
                                       AuditEvent.outcome == "accepted"))


def test_twenty_threads_fifty_updates_each_lose_nothing(serve, redis_url):
    start, app = serve
    server = start(redis_url, WEB_CONCURRENCY="2")
    with app.app_context():
        token = issue_token("alice", name="Alice")
    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(lambda _: _play(server, token, "alice", 50), range(20)))
    assert [s for statuses in results for s in statuses] == [200] * 1000
    with app.app_context():
        assert db.session.get(User, "alice").score == 1000
    assert _accepted(app, "alice") == 1000
    first = {"userId": "alice", "score": 1000, "rank": 1, "displayName": "Alice"}
    # Each worker's refresher brings its board up to the last write within moments.
    wait_for(lambda: all(call("GET", server.url + "/api/scores/top")[1]["topScores"][0] == first
                         for _ in range(4)), "both workers to show all 1000 points")
    verified = app.test_cli_runner().invoke(args=["scoreboard", "verify"])
    assert verified.exit_code == 0, verified.output
    assert "0 mismatches" in verified.output


def test_same_ticket_sent_twenty_times_at_once_counts_once(serve, redis_url):
    start, app = serve
    server = start(redis_url, WEB_CONCURRENCY="2")
    with app.app_context():
        token = issue_token("alice")
    headers = {"Authorization": f"Bearer {token}"}
    _play(server, token, "alice", 3)
    _, ticket, _ = call("POST", server.url + "/api/actions/start", {"actionType": "click"},
                        headers)
    body = {"userId": "alice", "authToken": token, "actionId": ticket["actionId"]}
    barrier = threading.Barrier(20)

    def send(_):
        barrier.wait()
        return call("POST", server.url + "/api/scores/update", body)[:2]

    with ThreadPoolExecutor(20) as pool:
        replies = list(pool.map(send, range(20)))
    assert replies == [(200, {"success": True, "message": "Score updated successfully.",
                              "updatedScore": 4})] * 20
    with app.app_context():
        assert db.session.get(User, "alice").score == 4
    assert _accepted(app, "alice") == 4
