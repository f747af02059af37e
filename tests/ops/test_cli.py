"""The ``flask scoreboard`` commands."""

import getpass
import json
from datetime import datetime, timedelta

import pytest
from flask_jwt_extended import decode_token
from sqlalchemy import func, select, update

from scoreboard import adapters
from scoreboard.data import partitions
from scoreboard.data.db import db
from scoreboard.data.models import ActionType, AuditEvent, User, WindowScore

from ..harness.players import stop_clock


def test_token_prints_one_signed_jwt_and_nothing_else(app, runner):
    result = runner.invoke(args=["scoreboard", "token", "alice", "--name", "Alice",
                                 "--region", "DE", "--role", "player", "--ttl", "120"])
    assert result.exit_code == 0
    token = result.output.strip()
    assert result.output == token + "\n" and token.count(".") == 2
    with app.app_context():
        claims = decode_token(token)
    assert (claims["sub"], claims["name"], claims["region"], claims["role"]) == \
        ("alice", "Alice", "DE", "player")
    assert claims["exp"] - claims["iat"] == 120 and claims["jti"]


def test_seed_adds_missing_types_and_keeps_operator_changes(app, runner):
    with app.app_context():
        db.session.execute(update(ActionType).where(ActionType.id == "click").values(points=7))
        db.session.delete(db.session.get(ActionType, "quiz"))
        db.session.commit()
    result = runner.invoke(args=["scoreboard", "seed"])
    assert result.exit_code == 0 and "1 added" in result.output
    with app.app_context():
        assert db.session.get(ActionType, "click").points == 7
        assert db.session.get(ActionType, "quiz") is not None


def test_verify_is_clean_then_catches_a_tampered_score(app, runner, player):
    player("alice").play()
    player("bob").play()
    clean = runner.invoke(args=["scoreboard", "verify"])
    assert clean.exit_code == 0
    assert "verified 2 players and 4 window scores: 0 mismatches" in clean.output
    with app.app_context():
        db.session.execute(update(User).where(User.id == "bob").values(score=999))
        db.session.commit()
    dirty = runner.invoke(args=["scoreboard", "verify"])
    assert dirty.exit_code == 1
    assert "MISMATCH bob: score 999, audit log says 1" in dirty.output


def test_rebuild_cache_writes_the_database_order(app, runner, player, client):
    player("alice").play()
    result = runner.invoke(args=["scoreboard", "rebuild-cache"])
    assert result.exit_code == 0 and "version 1" in result.output
    cached = adapters.of(app).cache.get_top("all")
    assert cached.version == 1
    assert json.loads(cached.body)["entries"] == client.get("/api/scores/top").json["topScores"]


def test_moderation_commands_act_as_the_api_does_audited_as_the_os_user(app, runner, player,
                                                                         client):
    player("alice").play()
    player("bob").play()
    me = f"cli:{getpass.getuser()}"
    for args, reply in (
            (["hide", "bob", "--reason", "cheating"], {"userId": "bob", "hidden": True}),
            (["unhide", "bob", "--reason", "appeal"], {"userId": "bob", "hidden": False}),
            (["ban", "bob", "--reason", "bot"], {"userId": "bob", "banned": True}),
            (["unban", "bob", "--reason", "human"], {"userId": "bob", "banned": False}),
            (["adjust", "alice", "-1", "--reason", "refund"], {"userId": "alice", "score": 0}),
            (["adjust", "bob", "5", "--reason", "refund"], {"userId": "bob", "score": 6})):
        result = runner.invoke(args=["scoreboard", *args])
        assert (result.exit_code, json.loads(result.output)) == (0, reply), args
    assert client.get("/api/scores/top").json["topScores"] == []  # bob: unbanned, not unhidden
    with app.app_context():
        acts = db.session.execute(select(AuditEvent.outcome, AuditEvent.actor,
                                         AuditEvent.reason)
                                  .where(AuditEvent.actor.is_not(None))
                                  .order_by(AuditEvent.id)).all()
    assert acts == [("hidden", me, "cheating"), ("unhidden", me, "appeal"),
                    ("banned", me, "bot"), ("unbanned", me, "human"),
                    ("adjusted", me, "refund"), ("adjusted", me, "refund")]


@pytest.mark.parametrize("args, message", [
    (["hide", "nobody", "--reason", "x"], "Error: No such player."),
    (["hide", "alice", "--reason", ""], "Error: reason must be 1 to 200 printable characters."),
    (["adjust", "alice", "-2", "--reason", "x"],
     "Error: The score is 1: an adjustment cannot take it below 0."),
    (["adjust", "alice", "0", "--reason", "x"],
     "Error: delta must be a whole number from -1000000 to 1000000, not 0."),
])
def test_a_refused_moderation_command_says_why_and_exits_1(app, runner, player, args, message):
    player("alice").play()
    result = runner.invoke(args=["scoreboard", *args])
    assert result.exit_code == 1
    assert message in result.output
    with app.app_context():
        assert db.session.get(User, "alice").score == 1
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.actor.is_not(None))) == 0


def test_a_moderation_command_needs_a_reason(runner, player):
    player("alice").play()
    result = runner.invoke(args=["scoreboard", "hide", "alice"])
    assert result.exit_code == 2 and "--reason" in result.output


def test_audit_prints_a_players_newest_events(runner, player):
    alice = player("alice")
    for _ in range(3):
        alice.play()
    runner.invoke(args=["scoreboard", "adjust", "alice", "2", "--reason", "refund"])
    result = runner.invoke(args=["scoreboard", "audit", "alice", "--limit", "2"])
    assert result.exit_code == 0
    events = [json.loads(line) for line in result.output.splitlines()]
    assert [(e["outcome"], e["delta"], e["scoreAfter"]) for e in events] == [
        ("adjusted", 2, 5), ("accepted", 1, 3)]


def test_verify_accounts_for_hides_bans_and_adjustments(app, runner, player, client):
    now = datetime(2026, 11, 30, 12)
    app.config["CLOCK"] = lambda: now - timedelta(days=7)
    for _ in range(3):
        player("alice").play()
    app.config["CLOCK"] = lambda: now
    player("alice").play()
    player("bob").play()
    client.get("/api/scores/users/alice")  # with Redis: builds a rank set that verify checks
    for args in (["adjust", "alice", "-3", "--reason", "x"],  # today's window stops at 0
                 ["adjust", "bob", "4", "--reason", "x"],
                 ["hide", "bob", "--reason", "x"], ["ban", "alice", "--reason", "x"],
                 ["unhide", "bob", "--reason", "x"]):
        assert runner.invoke(args=["scoreboard", *args]).exit_code == 0
    clean = runner.invoke(args=["scoreboard", "verify"])
    assert clean.exit_code == 0, clean.output
    assert "0 mismatches" in clean.output
    with app.app_context():
        db.session.execute(update(WindowScore).where(WindowScore.user_id == "alice",
                                                     WindowScore.period == "day:2026-11-30")
                           .values(score=1))
        db.session.commit()
    dirty = runner.invoke(args=["scoreboard", "verify"])
    assert dirty.exit_code == 1
    assert "MISMATCH alice in day:2026-11-30: score 1, audit log says 0" in dirty.output


def test_maintain_keeps_the_days_ahead_ready_or_says_sqlite_has_none(app, runner):
    today = stop_clock(app)
    result = runner.invoke(args=["scoreboard", "maintain"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            assert result.output.startswith("SQLite keeps plain tables, so there are no "
                                            "partitions to add\ndeleted ")
            return
        with db.engine.connect() as connection:
            found = {table: partitions.partitions(connection, table)
                     for table in partitions.PARTITIONED}
    for table, present in found.items():
        for ahead in range(app.config["PARTITION_DAYS_AHEAD"] + 1):
            day = (today + timedelta(days=ahead)).date()
            assert any(partition.covers(day) for partition in present), (table, day)
