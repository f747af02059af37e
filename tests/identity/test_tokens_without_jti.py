"""Tokens without a ``jti`` (Firebase ID tokens, the README's hand-signed admin token) work on
every route, no revocation names them, and asking about them never makes a worker take Redis
for down: on PostgreSQL and Redis the gate meets them while the blocklist copy is not fresh
(every minute, and after a restart)."""

import time

import jwt
import pytest

from scoreboard import adapters

from ..harness import SECRET
from ..harness.meters import redis_errors

# The same tests on a Redis Cluster too (conftest.py).
pytestmark = pytest.mark.backends("embedded", "postgres", "cluster")

START = "/api/actions/start"


def signed(user_id: str, **claims) -> str:
    """A valid token as an identity provider signs it: no ``jti`` unless given."""
    now = int(time.time())
    return jwt.encode({"sub": user_id, "iat": now, "exp": now + 600, **claims}, SECRET,
                      algorithm="HS256")


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def stale_blocklist(app) -> None:
    """Redis's copy of the blocklist as it is once its minute is up: unsure until reloaded."""
    store = adapters.of(app).store
    if store is not None:
        store.client.delete(store.key("{revoked}:fresh"))


def assert_redis_in_use(app) -> None:
    """This worker still asks Redis (it would answer "redis recently failed" otherwise)."""
    store = adapters.of(app).store
    assert store is None or store.command("PING") is True


def test_a_token_without_jti_plays_edits_its_profile_and_moderates(app, client):
    alice, admin = bearer(signed("alice", name="Alice")), bearer(signed("ops", role="admin"))
    refusals = redis_errors()
    steps = [
        (lambda: client.post(START, json={"actionType": "click"}, headers=alice), 201),
        (lambda: client.post("/api/scores/update", headers=alice, json={
            "userId": "alice", "actionId": ticket.json["actionId"]}), 200),
        (lambda: client.get("/api/users/me", headers=alice), 200),
        (lambda: client.put("/api/users/me", json={"displayName": "Al"}, headers=alice), 200),
        (lambda: client.post("/api/admin/players/alice/hide", json={"reason": "a test"},
                             headers=admin), 200),
        (lambda: client.post(START, json={"actionType": "click"}, headers=alice), 201),
    ]
    ticket = None
    for request, status in steps:
        stale_blocklist(app)
        reply = request()
        assert reply.status_code == status, reply.json
        assert_redis_in_use(app)
        ticket = ticket or reply
    assert client.get("/api/users/me", headers=alice).json["score"] == 1
    assert redis_errors() == refusals


def test_no_revocation_names_a_token_without_jti(app, client, runner):
    alice = bearer(signed("alice"))
    reply = client.post("/api/auth/revoke", headers=alice)
    assert reply.status_code == 400
    assert reply.json == {"success": False, "error": "Token has no jti and cannot be revoked."}
    # "None" is what the gate once asked Redis about for a token without jti.
    reply = client.post("/api/auth/revoke", headers=bearer(signed("mallory", jti="None")))
    assert reply.status_code == 200, reply.json
    reply = client.post(START, json={"actionType": "click"}, headers=alice)
    assert reply.status_code == 201, reply.json
    assert client.get("/api/users/me", headers=alice).status_code == 200

    result = runner.invoke(args=["scoreboard", "revoke", signed("alice")])
    assert result.exit_code == 1 and "TOKEN has no jti" in result.output
    assert_redis_in_use(app)


@pytest.mark.parametrize("jti", [123, ["a"], {"id": "a"}, "", "x" * 129, "has space",
                                 "nul\x00", "é"])
def test_a_jti_that_could_not_name_a_revocation_is_401(app, client, jti):
    headers = bearer(signed("alice", jti=jti))
    for reply in (client.post(START, json={"actionType": "click"}, headers=headers),
                  client.get("/api/users/me", headers=headers)):
        assert reply.status_code == 401
        assert reply.json == {"success": False, "error": "Invalid authentication token."}
    assert_redis_in_use(app)
