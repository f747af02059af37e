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

    from scoreboard.identity import token_memory

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


def test_an_accepted_token_skips_the_librarys_walk_but_not_revocation(make_app, backend,
                                                                       monkeypatch):
    from scoreboard.identity import auth

    walks = []
    verify = auth.verify_jwt_in_request
    monkeypatch.setattr(auth, "verify_jwt_in_request",
                        lambda **kwargs: walks.append(kwargs) or verify(**kwargs))
    app = make_app(backend)
    client = app.test_client()
    token = token_for(app, "alice")
    bearer = {"Authorization": f"Bearer {token}"}
    assert [start(client, token).status_code for _ in range(3)] == [201] * 3
    assert client.get("/api/users/me", headers=bearer).status_code == 200
    in_body = client.post("/api/scores/update", json={
        "userId": "alice", "authToken": token, "actionId": "x" * 16})
    assert in_body.status_code == 400  # past authentication: no such ticket
    assert len(walks) == 1

    # Any other shape of header is the library's to read, as before.
    spaced = client.get("/api/users/me", headers={"Authorization": f"Bearer  {token}"})
    assert spaced.status_code == 200 and len(walks) == 2

    assert client.post("/api/auth/revoke", headers=bearer).status_code == 200
    revoked = {"success": False, "error": "Authentication token has been revoked."}
    for refused in (client.get("/api/users/me", headers=bearer), start(client, token)):
        assert (refused.status_code, refused.json) == (401, revoked)
