"""Each app remembers the tokens it has accepted (scoreboard/identity/tokens.py): a
remembered token must still expire and be revoked, each app must still verify by its own
rules and keys, and Flask-JWT-Extended is used as it comes."""

import pytest

from ..harness.players import token_for
from ..harness.waiting import wait_for

START = "/api/actions/start"
STREAM = "/api/scores/stream"


def start(client, token):
    return client.post(START, json={"actionType": "click"},
                       headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def decodes(monkeypatch):
    """The tokens Flask-JWT-Extended's ``decode_token`` is asked to verify, in order."""
    from scoreboard.identity import tokens

    seen = []
    decode = tokens.decode_token
    monkeypatch.setattr(tokens, "decode_token", lambda token: seen.append(token) or decode(token))
    return seen


@pytest.fixture
def walks(monkeypatch):
    """Each walk through a request Flask-JWT-Extended's ``verify_jwt_in_request`` takes."""
    from scoreboard.identity import auth

    seen = []
    verify = auth.verify_jwt_in_request
    monkeypatch.setattr(auth, "verify_jwt_in_request",
                        lambda **kwargs: seen.append(kwargs) or verify(**kwargs))
    return seen


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


def test_a_token_one_app_remembers_is_refused_by_an_app_with_another_key(make_app):
    signer = make_app(JWT_SECRET_KEY="one-key-" + "x" * 32)
    other = make_app(JWT_SECRET_KEY="another-key-" + "y" * 32)
    token = token_for(signer, "alice")
    assert start(signer.test_client(), token).status_code == 201  # now remembered

    refused = start(other.test_client(), token)
    assert (refused.status_code, refused.json) == (
        401, {"success": False, "error": "Invalid authentication token."})


def test_flask_jwt_extended_is_left_as_it_comes(make_app):
    import flask_jwt_extended
    from flask_jwt_extended import JWTManager, utils, view_decorators

    app = make_app()
    token = token_for(app, "alice")
    assert start(app.test_client(), token).status_code == 201
    assert view_decorators.get_unverified_jwt_headers is utils.get_unverified_jwt_headers
    assert view_decorators.decode_token is utils.decode_token is flask_jwt_extended.decode_token
    assert type(app.extensions["flask-jwt-extended"]) is JWTManager


def test_a_token_is_verified_once_per_app(make_app, decodes):
    first, second = make_app(), make_app()
    token, other = token_for(first, "alice"), token_for(first, "bob")
    for _ in range(3):
        assert start(first.test_client(), token).status_code == 201
    assert start(first.test_client(), other).status_code == 201
    assert start(second.test_client(), token).status_code == 201
    assert decodes == [token, other, token]


def test_an_accepted_token_skips_the_librarys_walk_but_not_revocation(make_app, backend,
                                                                       decodes, walks):
    app = make_app(backend)
    client = app.test_client()
    token = token_for(app, "alice")
    bearer = {"Authorization": f"Bearer {token}"}
    assert [start(client, token).status_code for _ in range(3)] == [201] * 3
    assert client.get("/api/users/me", headers=bearer).status_code == 200
    in_body = client.post("/api/scores/update", json={
        "userId": "alice", "authToken": token, "actionId": "x" * 16})
    assert in_body.status_code == 400  # past authentication: no such ticket
    assert (decodes, walks) == ([token], [])

    # Any other shape of header is the library's to read, as before.
    spaced = client.get("/api/users/me", headers={"Authorization": f"Bearer  {token}"})
    assert spaced.status_code == 200 and len(walks) == 1

    assert client.post("/api/auth/revoke", headers=bearer).status_code == 200
    revoked = {"success": False, "error": "Authentication token has been revoked."}
    for refused in (client.get("/api/users/me", headers=bearer), start(client, token)):
        assert (refused.status_code, refused.json) == (401, revoked)


def test_a_streams_token_in_a_header_or_a_cookie_is_remembered(make_app, decodes, walks):
    app = make_app()
    client = app.test_client()
    token = token_for(app, "alice")
    bearer = {"Authorization": f"Bearer {token}"}
    created = client.post("/api/groups", json={"name": "Crew"}, headers=bearer)
    stream = f"{STREAM}?group={created.json['groupId']}"
    # 503: past authentication and membership, the test client cannot stream.
    assert client.get(stream, headers=bearer).status_code == 503
    client.set_cookie("scoreboard_token", token)
    assert client.get(stream).status_code == 503
    assert (decodes, walks) == ([token], [])

    refused = {"error": "Invalid authentication token.", "success": False}
    assert client.get(stream, headers={"Authorization": "Bearer not.a.token"}).json == refused
    client.delete_cookie("scoreboard_token")
    missing = client.get(stream)
    assert (missing.status_code, missing.json["error"]) == (401, "Missing authentication token.")


def test_a_requests_token_is_checked_once_however_often_its_handling_asks(make_app,
                                                                         round_trips):
    """A write's ban check authenticates before its view does: the view's call costs no
    second look-up of the revocation (a Redis round trip). The next request asks again."""
    from scoreboard import identity

    app = make_app("postgres")
    headers = {"Authorization": f"Bearer {token_for(app, 'alice')}"}
    with app.test_request_context("/api/users/me", method="PUT", headers=headers):
        claims = identity.authenticate()
        round_trips.clear()
        assert identity.authenticate() is claims and round_trips == []
    with app.test_request_context("/api/users/me", method="PUT", headers=headers):
        assert identity.authenticate() == claims and len(round_trips) == 1
