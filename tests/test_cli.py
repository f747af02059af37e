"""The ``flask scoreboard`` commands."""

import json

from flask_jwt_extended import decode_token
from sqlalchemy import update

from scoreboard.extensions import db
from scoreboard.services import services
from scoreboard.models import ActionType, User


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
    cached = services(app).board_cache.get_top("all")
    assert cached.version == 1
    assert json.loads(cached.body)["entries"] == client.get("/api/scores/top").json["topScores"]
