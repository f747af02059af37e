"""A player's updates refused by their own rate limit are audited as a count: one row per
player a minute, however many requests, and no attempt goes uncounted. Through the
services, then through the API, the audit log's pages and verify."""

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from scoreboard.core.clock import system_now
from scoreboard.data.db import db
from scoreboard.data.models import AuditEvent
from scoreboard.identity.auth import issue_token
from scoreboard.play import scoring
from scoreboard.web.gate import PlayerOverLimit

from ..harness.players import Player

# The same tests on a Redis Cluster too (conftest.py).
pytestmark = pytest.mark.backends("embedded", "postgres", "cluster")

NOON = datetime(2026, 11, 30, 12, 0, 30)

TOO_MANY = PlayerOverLimit("ann", 1).description  # the audit row's reason


def refuse(app, user_id: str, times: int = 1) -> None:
    with app.app_context():
        for _ in range(times):
            attempt = scoring.Attempt(user_id, "t" * 24, f"req-{user_id}", "10.0.0.1")
            scoring.count_over_limit(attempt, PlayerOverLimit(user_id, 30))


def at(app, moment: datetime) -> None:
    app.config["CLOCK"] = lambda: moment


def events(app) -> list:
    with app.app_context():
        return [(e.user_id, e.at, e.outcome, e.count, e.reason, e.ticket_id, e.request_id)
                for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def test_refusals_count_in_one_row_per_player_and_minute(app):
    at(app, NOON)
    refuse(app, "ann", 3)
    at(app, NOON + timedelta(seconds=29))  # 12:00:59, the same minute
    refuse(app, "ann")
    refuse(app, "ben")
    at(app, NOON + timedelta(seconds=30))  # 12:01:00, the next one
    refuse(app, "ann", 2)
    noon, one = datetime(2026, 11, 30, 12), datetime(2026, 11, 30, 12, 1)
    assert events(app) == [
        ("ann", noon, "rate_limited", 4, TOO_MANY, None, "req-ann"),
        ("ben", noon, "rate_limited", 1, TOO_MANY, None, "req-ben"),
        ("ann", one, "rate_limited", 2, TOO_MANY, None, "req-ann"),
    ]


def test_verify_reports_every_refused_attempt_and_its_rows(app, runner, player):
    alice = player("alice")
    assert alice.complete("no-such-ticket-at-all").status_code == 400  # a row of its own
    at(app, NOON)
    refuse(app, "alice", 6)
    verified = runner.invoke(args=["scoreboard", "verify"])
    assert verified.exit_code == 0, verified.output
    assert "refused attempts: 7 (audit rows: 2)" in verified.output


def test_refusals_at_the_same_moment_are_each_counted(make_app):
    app = make_app("postgres")
    at(app, NOON)
    threads = [threading.Thread(target=refuse, args=(app, "ann", 10)) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [(outcome, count) for _, _, outcome, count, *_ in events(app)] == [
        ("rate_limited", 60)]


def test_a_flood_past_the_limit_is_one_counted_event_in_the_audit_api(make_app, backend):
    app = make_app(backend, RATELIMIT_UPDATE="1/minute")
    moment = system_now()
    at(app, moment)  # all in one minute, whenever the test runs
    client = app.test_client()
    with app.app_context():
        alice = Player("alice", issue_token("alice"), client)
        admin = {"Authorization": f"Bearer {issue_token('root', role='admin')}"}
    alice.play()
    refused = [alice.complete(alice.start().json["actionId"]) for _ in range(5)]
    assert [reply.status_code for reply in refused] == [429] * 5
    page = client.get("/api/admin/audit", headers=admin).json
    assert [(e["outcome"], e["count"]) for e in page["events"]] == [
        ("rate_limited", 5), ("accepted", 1)]
    counted = page["events"][0]
    minute = moment.replace(second=0, microsecond=0).isoformat(timespec="milliseconds") + "Z"
    assert counted | {"id": 0, "requestId": ""} == {
        "id": 0, "at": minute, "userId": "alice", "actor": None, "outcome": "rate_limited",
        "actionType": None, "delta": 0, "scoreAfter": None, "reason": TOO_MANY, "count": 5,
        "requestId": "", "clientIp": "127.0.0.1"}
    only = client.get("/api/admin/audit?outcome=rate_limited&userId=alice", headers=admin)
    assert only.json == {"events": [counted], "next": None}
    verified = app.test_cli_runner().invoke(args=["scoreboard", "verify"])
    assert verified.exit_code == 0, verified.output
    assert "refused attempts: 5 (audit rows: 1)" in verified.output
