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
