"""The JWT manager remembers verified tokens (scoreboard/token_memory.py): a remembered
token must still expire, and each app must still verify by its own rules."""

from .harness.players import token_for
from .harness.waiting import wait_for

START = "/api/actions/start"


def start(client, token):
    return client.post(START, json={"actionType": "click"},
                       headers={"Authorization": f"Bearer {token}"})


def test_a_remembered_token_is_refused_once_it_expires(make_app):
    app = make_app(JWT_LEEWAY=0)
    client = app.test_client()
    token = token_for(app, "alice", ttl=2)
    assert start(client, token).status_code == 201  # verified, and now remembered

    refused = wait_for(lambda: (r := start(client, token)).status_code == 401 and r,
                       "the remembered token to be refused after it expired", timeout=30)
    assert refused.json == {"success": False, "error": "Authentication token has expired."}


def test_each_app_verifies_a_token_by_its_own_rules(make_app):
    lenient = make_app()
    strict = make_app(JWT_ISSUER="https://issuer.example")
    token = token_for(lenient, "alice")  # no issuer claim: only the lenient app accepts it
    assert start(lenient.test_client(), token).status_code == 201

    refused = start(strict.test_client(), token)
    assert refused.status_code == 401
    assert refused.json == {"success": False, "error": "Invalid authentication token."}


def test_the_header_of_a_verified_token_is_read_once(make_app, monkeypatch):
    from flask_jwt_extended import view_decorators

    from scoreboard import token_memory

    reads = []
    monkeypatch.setattr(token_memory, "_read_header",
                        lambda token: reads.append(token) or {"alg": "HS256", "typ": "JWT"})
    app = make_app()
    client = app.test_client()
    token, other = token_for(app, "alice"), token_for(app, "bob")
    for _ in range(3):
        assert start(client, token).status_code == 201
    assert start(client, other).status_code == 201
    assert reads == [token, other]
    assert view_decorators.get_unverified_jwt_headers(token) == {"alg": "HS256", "typ": "JWT"}
