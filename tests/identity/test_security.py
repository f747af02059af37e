"""Attacks on POST /api/scores/update: each is refused with the JSON error shape, and leaves
every score as it was and the ticket still usable by its rightful owner."""

import base64
import hashlib
import hmac
import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from scoreboard import adapters, create_app
from scoreboard.data.db import db
from scoreboard.data.models import User
from scoreboard.identity.auth import issue_token

from ..conftest import base_config
from ..harness import SECRET
from ..harness.players import Player
from ..harness.provider import JWKS_PATH

UPDATE = "/api/scores/update"
BAD_REQUEST = {"success": False, "error": "Invalid action or request format."}
FORBIDDEN = {"success": False, "error": "Unauthorized score update attempt."}
ISSUER, AUDIENCE = "https://issuer.example", "scoreboard"


# --- crafting tokens -------------------------------------------------------------------------

def claims_for(user_id, *, expires_in=600, not_before_in=0, **extra) -> dict:
    """The claims of a valid access token; ``expires_in=None`` leaves out ``exp``."""
    now = int(time.time())
    claims = {"sub": user_id, "iat": now, "nbf": now + not_before_in,
              "jti": str(uuid.uuid4()), "type": "access", "fresh": False, **extra}
    if expires_in is not None:
        claims["exp"] = now + expires_in
    return claims


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: dict) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def forge(header: dict, claims: dict, hmac_key: bytes | None = None) -> str:
    """A token built by hand: HMAC-SHA256 over it with ``hmac_key``, or no signature at all."""
    signing_input = f"{segment(header)}.{segment(claims)}"
    signature = b""
    if hmac_key is not None:
        signature = hmac.new(hmac_key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def unsigned(claims: dict, alg="none") -> str:
    return forge({"alg": alg, "typ": "JWT"}, claims)


def tampered(token: str, **changes) -> str:
    """``token`` with its payload changed and its original header and signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return f"{header}.{segment({**claims, **changes})}.{signature}"


def hs256(claims: dict, key=SECRET) -> str:
    return jwt.encode(claims, key, algorithm="HS256")


# --- requests and checks ---------------------------------------------------------------------

def player_on(app, user_id) -> Player:
    with app.app_context():
        return Player(user_id, issue_token(user_id), app.test_client())


def complete_with(client, token, ticket, user_id="alice", **extra):
    body = {"userId": user_id, "authToken": token, "actionId": ticket, **extra}
    return client.post(UPDATE, json=body)


def score_of(app, user_id):
    with app.app_context():
        user = db.session.get(User, user_id)
        return user.score if user else None


def assert_refused(reply, status):
    assert reply.status_code == status, reply.get_data(as_text=True)
    body = reply.get_json()
    assert set(body) == {"success", "error"} and body["success"] is False
    assert isinstance(body["error"], str) and body["error"]


def assert_nothing_changed(app, owner: Player, ticket, score_before):
    """The owner's score is as it was, and the owner can still complete the ticket (+1)."""
    assert score_of(app, owner.user_id) == score_before
    reply = owner.complete(ticket)
    assert reply.status_code == 200, reply.json
    assert reply.json["updatedScore"] == score_before + 1


@pytest.fixture
def alice(player):
    """Alice with a score of 1 already, so that a reset would show."""
    alice = player("alice")
    alice.play()
    return alice


@pytest.fixture
def ticket(alice):
    started = alice.start()
    assert started.status_code == 201
    return started.json["actionId"]


# --- forged, altered and badly timed tokens --------------------------------------------------

def test_crafted_token_with_right_claims_is_accepted(app, client, alice, ticket):
    """The control for the cases below: the crafting helpers make tokens the app accepts."""
    by_hand = forge({"alg": "HS256", "typ": "JWT"}, claims_for("alice"), SECRET.encode())
    reply = complete_with(client, by_hand, ticket)
    assert reply.status_code == 200 and reply.json["updatedScore"] == 2
    second = alice.start().json["actionId"]
    assert complete_with(client, hs256(claims_for("alice")), second).json["updatedScore"] == 3


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_unsigned_alg_none_token_is_401(app, client, alice, ticket, alg):
    reply = complete_with(client, unsigned(claims_for("alice"), alg), ticket)
    assert_refused(reply, 401)
    assert_nothing_changed(app, alice, ticket, 1)


def test_alg_none_with_original_signature_kept_is_401(app, client, alice, ticket):
    header, payload, signature = alice.token.split(".")
    none_header = segment({"alg": "none", "typ": "JWT"})
    assert_refused(complete_with(client, f"{none_header}.{payload}.{signature}", ticket), 401)
    assert_nothing_changed(app, alice, ticket, 1)


@pytest.mark.parametrize("changes", [
    pytest.param({"sub": "alice"}, id="sub-changed"),
    pytest.param({"sub": "alice", "exp": int(time.time()) + 10**8}, id="sub-and-exp-changed"),
])
def test_tampered_payload_with_original_signature_is_401(app, client, player, alice, ticket,
                                                         changes):
    mallory = player("mallory")
    assert mallory.start().status_code == 201  # a genuine, valid token of mallory's own
    reply = complete_with(client, tampered(mallory.token, **changes), ticket)
    assert_refused(reply, 401)
    assert_nothing_changed(app, alice, ticket, 1)
    assert score_of(app, "mallory") == 0


def test_token_signed_with_another_secret_is_401(app, client, alice, ticket):
    forged = hs256(claims_for("alice"), key="another-secret-" + "y" * 40)
    assert_refused(complete_with(client, forged, ticket), 401)
    assert_nothing_changed(app, alice, ticket, 1)


def test_garbage_token_is_401(app, client, alice, ticket):
    assert_refused(complete_with(client, "abc.def.ghi", ticket), 401)
    assert_nothing_changed(app, alice, ticket, 1)


def test_refresh_token_is_401_however_it_is_presented(app, client, alice, ticket):
    refresh = hs256(claims_for("alice", type="refresh"))
    plain = {"Authorization": f"Bearer {refresh}"}
    odd = {"Authorization": f"Bearer  {refresh}"}  # read by Flask-JWT-Extended (auth.py)
    for headers in (plain, odd):
        reply = client.post(UPDATE, json={"userId": "alice", "actionId": ticket},
                            headers=headers)
        assert_refused(reply, 401)
        assert reply.json["error"] == "Invalid authentication token."
    assert_refused(complete_with(client, refresh, ticket), 401)
    assert_nothing_changed(app, alice, ticket, 1)


@pytest.mark.parametrize("timing", [
    pytest.param({"expires_in": -60}, id="expired-60s-ago"),
    pytest.param({"expires_in": -20}, id="expired-20s-ago"),
    pytest.param({"not_before_in": 60}, id="nbf-in-future-beyond-leeway"),
    pytest.param({"expires_in": None}, id="no-exp"),
    pytest.param({"iat": int(time.time()) + 3600}, id="iat-in-future"),
])
def test_badly_timed_token_is_401(app, client, alice, ticket, timing):
    assert_refused(complete_with(client, hs256(claims_for("alice", **timing)), ticket), 401)
    assert_nothing_changed(app, alice, ticket, 1)


def test_expired_token_says_so(client, alice, ticket):
    reply = complete_with(client, hs256(claims_for("alice", expires_in=-60)), ticket)
    assert reply.status_code == 401
    assert reply.json == {"success": False, "error": "Authentication token has expired."}


@pytest.mark.parametrize("timing", [
    pytest.param({"expires_in": -3}, id="expired-within-leeway"),
    pytest.param({"not_before_in": 3}, id="nbf-within-leeway"),
])
def test_clock_skew_within_leeway_is_tolerated(client, alice, ticket, timing):
    reply = complete_with(client, hs256(claims_for("alice", **timing)), ticket)
    assert reply.status_code == 200 and reply.json["updatedScore"] == 2


@pytest.mark.parametrize("authorization", [
    pytest.param("Basic {token}", id="basic"),
    pytest.param("Token {token}", id="token"),
    pytest.param("JWT {token}", id="jwt"),
    pytest.param("{token}", id="no-scheme"),
])
def test_header_with_scheme_other_than_bearer_is_401(app, client, alice, ticket, authorization):
    reply = client.post(UPDATE, json={"userId": "alice", "actionId": ticket},
                        headers={"Authorization": authorization.format(token=alice.token)})
    assert_refused(reply, 401)
    assert_nothing_changed(app, alice, ticket, 1)


# --- issuer and audience, with a shared secret or the identity provider's keys ---------------

@pytest.fixture(params=["secret", "jwks"])
def iss_aud(request, make_app, backend, provider):
    """(app, sign): an app that requires ISSUER and AUDIENCE, and ``sign(claims)``, which
    signs tokens as that app verifies them: with the shared secret, or with the key ``k1``
    of the identity provider whose JWKS the app reads."""
    settings = {"JWT_ISSUER": ISSUER, "JWT_AUDIENCE": AUDIENCE}
    if request.param == "secret":
        return make_app(backend, **settings), hs256
    app = make_app(backend, JWT_ALGORITHM="RS256", JWT_JWKS_URL=provider.url, **settings)
    return app, lambda claims: provider.sign(claims, "k1")


@pytest.mark.parametrize("claims", [
    pytest.param({"iss": "https://evil.example", "aud": AUDIENCE}, id="wrong-issuer"),
    pytest.param({"iss": ISSUER, "aud": "another-service"}, id="wrong-audience"),
    pytest.param({"aud": AUDIENCE}, id="no-issuer"),
    pytest.param({"iss": ISSUER}, id="no-audience"),
])
def test_wrong_or_missing_issuer_or_audience_is_401(iss_aud, claims):
    app, sign = iss_aud
    alice = Player("alice", sign(claims_for("alice", iss=ISSUER, aud=AUDIENCE)),
                   app.test_client())
    alice.play()
    ticket = alice.start().json["actionId"]
    reply = complete_with(alice.client, sign(claims_for("alice", **claims)), ticket)
    assert_refused(reply, 401)
    assert_nothing_changed(app, alice, ticket, 1)


def test_right_issuer_and_audience_are_accepted(iss_aud):
    app, sign = iss_aud
    alice = Player("alice", sign(claims_for("alice", iss=ISSUER, aud=AUDIENCE)),
                   app.test_client())
    assert alice.play() == 1
    ticket = alice.start().json["actionId"]
    reply = complete_with(alice.client, sign(claims_for("alice", iss=ISSUER, aud=AUDIENCE)),
                          ticket)
    assert reply.status_code == 200 and reply.json["updatedScore"] == 2


def test_the_apps_own_tokens_carry_the_issuer_and_audience(make_app):
    app = make_app(JWT_ISSUER=ISSUER, JWT_AUDIENCE=AUDIENCE)
    assert player_on(app, "alice").play() == 1


# --- RS256: a public key given, or the identity provider's JWKS ------------------------------

ATTACKERS_JWKS, ATTACKERS_CERTIFICATE = "/attacker/jwks.json", "/attacker/cert.pem"


def _header(**fields) -> dict:
    return {"typ": "JWT", "alg": "RS256", **fields}


# Tokens for alice that only someone without the provider's private key ``k1`` would make:
# each is built from ``provider`` (whose ``stranger`` key is the attacker's own, never
# published) and alice's claims. Under JWT_PUBLIC_KEY a ``kid`` is ignored, and the JWKS app
# must never fetch what a header points to (``jku``, ``x5u``), nor trust a key it carries.
FORGERIES = {
    "hs256-keyed-with-public-key-pem": lambda p, c: forge(
        {"alg": "HS256", "typ": "JWT", "kid": "k1"}, c, p.public_pem("k1").encode()),
    "hs256-keyed-with-secret-key": lambda p, c: forge(
        {"alg": "HS256", "typ": "JWT", "kid": "k1"}, c, SECRET.encode()),
    "rs256-signed-by-another-key": lambda p, c: p.sign(c, "stranger"),
    "another-key-naming-the-providers-kid": lambda p, c: p.forge(_header(kid="k1"), c,
                                                                 "stranger"),
    **{f"alg-{alg}": lambda p, c, alg=alg: forge({"alg": alg, "typ": "JWT", "kid": "k1"}, c)
       for alg in ("none", "None", "NONE")},
    "alg-none-with-a-genuine-signature-kept": lambda p, c: ".".join([
        segment({"alg": "none", "kid": "k1"}), *p.sign(c, "k1").split(".")[1:]]),
    "genuine-signature-over-another-payload": lambda p, c: tampered(
        p.sign({**c, "sub": "mallory"}, "k1"), sub="alice"),
    "kid-path-traversal": lambda p, c: p.forge(_header(kid="../../../../dev/null"), c,
                                               "stranger"),
    "kid-sql-injection": lambda p, c: p.forge(_header(kid="k1' OR '1'='1"), c, "stranger"),
    "kid-a-list": lambda p, c: p.forge(_header(kid=["k1"]), c, "stranger"),
    "kid-an-object": lambda p, c: p.forge(_header(kid={"$ne": ""}), c, "stranger"),
    "kid-a-number": lambda p, c: p.forge(_header(kid=1), c, "stranger"),
    "kid-empty": lambda p, c: p.forge(_header(kid=""), c, "stranger"),
    "kid-very-long": lambda p, c: p.forge(_header(kid="k" * 500), c, "stranger"),
    "jku-to-the-attackers-jwks": lambda p, c: p.sign(
        c, "stranger", headers={"jku": p.base + ATTACKERS_JWKS}),
    "jku-to-the-attackers-jwks-naming-the-providers-kid": lambda p, c: p.forge(
        _header(kid="k1", jku=p.base + ATTACKERS_JWKS), c, "stranger"),
    "x5u-to-the-attackers-certificate": lambda p, c: p.sign(
        c, "stranger", headers={"x5u": p.base + ATTACKERS_CERTIFICATE}),
    "jwk-of-the-attacker-in-the-header": lambda p, c: p.sign(
        c, "stranger", headers={"jwk": p.jwk("stranger")}),
}


@pytest.fixture(params=["public-key", "jwks"])
def rs256_app(request, make_app, backend, provider):
    """An app that verifies RS256 tokens with ``provider``'s key ``k1``: given as
    JWT_PUBLIC_KEY, or read from the provider's JWKS. The provider also holds an attacker's
    key, ``stranger``, which it never publishes: its public half is served at an address of
    the attacker's own instead."""
    provider.new_key("stranger", publish=False)
    provider.extra[ATTACKERS_JWKS] = {"keys": [provider.jwk("stranger"),
                                               provider.jwk("stranger", kid="k1")]}
    if request.param == "public-key":
        return make_app(backend, JWT_ALGORITHM="RS256", JWT_PUBLIC_KEY=provider.public_pem("k1"))
    return make_app(backend, JWT_ALGORITHM="RS256", JWT_JWKS_URL=provider.url)


def test_rs256_token_signed_with_the_providers_key_is_accepted(rs256_app, provider):
    alice = Player("alice", provider.sign(claims_for("alice"), "k1"), rs256_app.test_client())
    assert alice.play() == 1
    ticket = alice.start().json["actionId"]
    reply = complete_with(alice.client, provider.sign(claims_for("alice"), "k1"), ticket)
    assert reply.status_code == 200 and reply.json["updatedScore"] == 2


def test_the_apps_own_rs256_tokens_are_accepted(make_app, provider):
    private = provider.private["k1"][1].private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()
    app = make_app(JWT_ALGORITHM="RS256", JWT_PUBLIC_KEY=provider.public_pem("k1"),
                   JWT_PRIVATE_KEY=private)
    assert player_on(app, "alice").play() == 1


@pytest.mark.parametrize("attack", FORGERIES)
def test_rs256_app_refuses_forged_tokens(rs256_app, provider, attack):
    alice = Player("alice", provider.sign(claims_for("alice"), "k1"), rs256_app.test_client())
    alice.play()
    ticket = alice.start().json["actionId"]
    forged = FORGERIES[attack](provider, claims_for("alice"))
    for _ in range(2):  # the second time after any fetch the first one prompted
        assert_refused(complete_with(alice.client, forged, ticket), 401)
    assert_nothing_changed(rs256_app, alice, ticket, 1)
    # Nothing a token says makes the app fetch anything but the provider's JWKS.
    asked = provider.paths()
    assert asked <= ({JWKS_PATH} if rs256_app.config["JWT_JWKS_URL"] else set()), asked


# --- another user's id, extra fields, bad bodies ---------------------------------------------

@pytest.mark.parametrize("whose_ticket", ["alice", "bob"])
def test_another_users_id_is_403_and_changes_nothing(app, client, player, alice, whose_ticket):
    bob = player("bob")
    bob.play()
    tickets = {"alice": alice.start().json["actionId"], "bob": bob.start().json["actionId"]}
    reply = complete_with(client, alice.token, tickets[whose_ticket], user_id="bob")
    assert reply.status_code == 403 and reply.json == FORBIDDEN
    assert score_of(app, "alice") == 1
    assert_nothing_changed(app, bob, tickets["bob"], 1)
    assert_nothing_changed(app, alice, tickets["alice"], 1)


@pytest.mark.parametrize("extra", [
    {"score": 1000}, {"points": 1000}, {"updatedScore": 1000}, {"score": "1000"},
], ids=["score", "points", "updatedScore", "score-as-string"])
def test_extra_fields_are_400_and_change_nothing(app, client, alice, ticket, extra):
    reply = complete_with(client, alice.token, ticket, **extra)
    assert reply.status_code == 400 and reply.json == BAD_REQUEST
    assert_nothing_changed(app, alice, ticket, 1)


@pytest.mark.parametrize("kind, status", [
    ("oversized", 413), ("form", 415), ("malformed", 400),
])
def test_bad_body_is_refused_and_changes_nothing(app, client, alice, ticket, kind, status):
    body = {"userId": "alice", "authToken": alice.token, "actionId": ticket}
    data, content_type = {
        # a valid request, only padded past the 4096-byte limit with JSON whitespace
        "oversized": (json.dumps(body) + " " * 4096, "application/json"),
        "form": ("&".join(f"{k}={v}" for k, v in body.items()),
                 "application/x-www-form-urlencoded"),
        "malformed": (json.dumps(body)[:-1], "application/json"),
    }[kind]
    reply = client.post(UPDATE, data=data, content_type=content_type, headers=alice.headers)
    assert_refused(reply, status)
    assert_nothing_changed(app, alice, ticket, 1)


# --- revocation ------------------------------------------------------------------------------

def revoke(how, client, runner, token):
    """Revoke ``token`` by sign-out with it, or with ``flask scoreboard revoke``."""
    if how == "endpoint":
        reply = client.post("/api/auth/revoke", headers={"Authorization": f"Bearer {token}"})
        assert reply.status_code == 200 and reply.json["success"] is True
    else:
        result = runner.invoke(args=["scoreboard", "revoke", token])
        assert result.exit_code == 0, result.output
        assert "revoked" in result.output


@pytest.mark.parametrize("how", ["endpoint", "cli"])
def test_revoked_token_is_401(app, client, runner, player, alice, ticket, how):
    revoke(how, client, runner, alice.token)
    assert_refused(complete_with(client, alice.token, ticket), 401)
    assert_refused(alice.start(), 401)
    assert_refused(client.post("/api/auth/revoke", headers=alice.headers), 401)
    assert_nothing_changed(app, player("alice"), ticket, 1)  # with a new token


@pytest.mark.parametrize("how", ["endpoint", "cli"])
def test_revocation_holds_after_redis_copy_is_lost(make_app, how):
    app = make_app("postgres")
    alice = player_on(app, "alice")
    alice.play()
    ticket = alice.start().json["actionId"]
    revoke(how, alice.client, app.test_cli_runner(), alice.token)
    assert_refused(complete_with(alice.client, alice.token, ticket), 401)

    store = adapters.of(app).store
    keys = list(store.client.scan_iter(match=store.prefix + "*"))
    assert store.key("{revoked}") in {key.decode() for key in keys}
    store.client.delete(*keys)

    assert_refused(complete_with(alice.client, alice.token, ticket), 401)
    assert_refused(complete_with(alice.client, alice.token, ticket), 401)  # once reloaded too
    assert_nothing_changed(app, player_on(app, "alice"), ticket, 1)


# --- claims from an identity provider we do not control --------------------------------------

@pytest.mark.parametrize("claims, status", [
    ({"region": "europe-west-very-long"}, 201),  # an unusable region is dropped
    ({"name": {"first": "Al"}}, 201),  # a name that is not text is replaced by the id
    ({"name": "N" * 500}, 201),  # a long name is cut
])
def test_odd_claims_are_cleaned_not_a_500(app, client, claims, status):
    token = hs256(claims_for("carol", **claims))
    reply = client.post("/api/actions/start", json={"actionType": "click"},
                        headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == status, reply.json
    with app.app_context():
        carol = db.session.get(User, "carol")
    assert carol.region is None and len(carol.display_name) <= 64


@pytest.mark.parametrize("name", ["\u202eecila", "Car\u200bol", "Car\u2028ol", "Car\x00ol",
                                  "Car\ud800ol"])
def test_a_name_claim_no_name_may_hold_is_401_everywhere_and_writes_nothing(app, client, name):
    """The provider's name follows the rule for names (names.py). The token is refused as
    a whole, as one whose sub is no player id is: a new token with the same claim would fail
    the same way, and refusing at authentication keeps every route alike."""
    headers = {"Authorization": f"Bearer {hs256(claims_for('carol', name=name))}"}
    for reply in (client.post("/api/actions/start", json={"actionType": "click"},
                              headers=headers),
                  client.get("/api/users/me", headers=headers),
                  client.put("/api/users/me", json={"region": "DE"}, headers=headers),
                  client.post("/api/groups", json={"name": "Crew"}, headers=headers)):
        assert_refused(reply, 401)
        assert reply.json["error"] == ("Invalid authentication token: its name claim holds "
                                       "control or format characters, which no name may.")
    assert score_of(app, "carol") is None


@pytest.mark.parametrize("claims", [
    pytest.param({"exp": str(int(time.time()) + 600)}, id="exp-as-text"),
    pytest.param({"exp": 10**20}, id="exp-past-year-9999"),
    pytest.param({"jti": "a\x00b"}, id="jti-with-nul"),
    pytest.param({"jti": "\ud800"}, id="jti-lone-surrogate"),
    pytest.param({"jti": "j" * 129}, id="jti-longer-than-the-blocklist-keeps"),
])
def test_claims_the_service_could_not_store_or_compare_are_401_every_time(
        app, client, alice, ticket, claims):
    token = hs256({**claims_for("alice"), **claims})
    for _ in range(2):  # only accepted tokens are remembered (identity/tokens.py): again 401
        assert_refused(complete_with(client, token, ticket), 401)
        assert_refused(client.post("/api/auth/revoke",
                                   headers={"Authorization": f"Bearer {token}"}), 401)
    assert_nothing_changed(app, alice, ticket, 1)


@pytest.mark.parametrize("subject", ["x" * 65, "has space", ""])
def test_unusable_subject_is_401(client, subject):
    token = hs256(claims_for(subject))
    reply = client.post("/api/actions/start", json={"actionType": "click"},
                        headers={"Authorization": f"Bearer {token}"})
    assert_refused(reply, 401)


def test_token_for_another_audience_is_401_when_none_is_configured(client, alice, ticket):
    token = hs256(claims_for("alice", aud="billing-service"))
    assert_refused(complete_with(client, token, ticket), 401)


# --- the blocklist copy in Redis never outlives the database's truth ---------------------------

def test_revocation_that_reached_only_the_database_is_enforced_after_the_refresh(
        make_app, database_url):
    server = make_app("postgres")
    with server.app_context():
        token = issue_token("alice")
    client = server.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/actions/start", json={"actionType": "click"},
                       headers=headers).status_code == 201  # the blocklist is now loaded
    # Another process (the CLI) revokes while it cannot reach Redis: the database only.
    offline = create_app(base_config(database_url, "redis://127.0.0.1:1/0"))
    result = offline.test_cli_runner().invoke(args=["scoreboard", "revoke", token])
    assert result.exit_code == 0 and "Redis is unreachable" in result.output
    with offline.app_context():
        db.engine.dispose()
    # Once the loaded copy is older than the refresh interval (its marker expires), the
    # database's answer wins.
    store = adapters.of(server).store
    store.client.delete(store.key("{revoked}:fresh"))
    reply = client.post("/api/actions/start", json={"actionType": "click"}, headers=headers)
    assert_refused(reply, 401)


def test_reloading_the_blocklist_never_drops_a_revocation(make_app):
    app = make_app("postgres")
    blocklist = adapters.of(app).blocklist
    blocklist.load_revoked(["old"])
    blocklist.add_revoked("made-while-loading")  # committed after the loader read the database
    blocklist.load_revoked(["old"])  # the loader's stale list
    assert blocklist.is_revoked("made-while-loading") is True
    assert blocklist.is_revoked("never-revoked") is False
