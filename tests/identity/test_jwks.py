"""Tokens verified with the identity provider's keys, read from its JWKS document
(``JWT_JWKS_URL``, scoreboard/identity/jwks.py). A provider of the test's own
(harness/provider.py) serves the document over HTTP, rotates its keys, withdraws them and
fails. The attacks on tokens (alg none, wrong keys, ``kid`` tricks, ``jku`` and ``x5u``) run
against this mode in test_security.py, whose ``rs256_app`` and ``iss_aud`` fixtures take it
as one of their modes."""

import threading
import time
import uuid
from urllib.parse import quote

import pytest

from config import PUBLIC_KEY_ALGORITHMS
from scoreboard.identity.jwks import REFRESH_AHEAD

from ..harness.meters import jwks_fetches
from ..harness.players import Player
from ..harness.provider import DOWN, DROPPING, GARBAGE, HANGING, SERVING
from ..harness.servers import call, metric
from ..harness.waiting import wait_for
from .test_security import assert_refused, b64url, claims_for, forge

START, ME = "/api/actions/start", "/api/users/me"
NOT_READY = "Not ready: no signing key could be fetched from JWT_JWKS_URL yet."


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def start(client, token):
    return client.post(START, json={"actionType": "click"}, headers=bearer(token))


def me(client, token):
    return client.get(ME, headers=bearer(token))


def wait_past(moment: float, seconds: float, what: str) -> None:
    """Wait, making no request, until ``seconds`` have passed since ``moment``."""
    wait_for(lambda: time.monotonic() - moment >= seconds, what, timeout=seconds + 30)


# --- verifying -------------------------------------------------------------------------------

@pytest.mark.parametrize("algorithm", PUBLIC_KEY_ALGORITHMS)
def test_each_algorithm_is_verified_with_the_providers_key(jwks_app, provider, backend,
                                                           algorithm):
    provider.new_key("signing", algorithm)
    app = jwks_app(backend, JWT_ALGORITHM=algorithm)
    alice = Player("alice", provider.sign(claims_for("alice"), "signing"), app.test_client())
    assert alice.play() == 1
    assert alice.play() == 2  # the token remembered (tokens.TokenMemory), its key still held
    ready = alice.client.get("/readyz")
    assert (ready.status_code, ready.json["status"], ready.json["jwks"]) == (200, "ok", "ok")
    assert len(provider.fetches()) == 1


def test_an_auth0_subject_plays_and_is_found_by_its_id(jwks_app, provider, backend):
    """Auth0 names the connection in ``sub`` (``auth0|…``, ``google-oauth2|…``)."""
    client = jwks_app(backend).test_client()
    subject = "google-oauth2|109876543210987654321"
    player = Player(subject, provider.sign(claims_for(subject), "k1"), client)
    assert player.play() == 1
    assert [row["userId"] for row in client.get("/api/scores/top").json["topScores"]] == [
        subject]
    rank = client.get(f"/api/scores/users/{quote(subject, safe='')}")
    assert (rank.status_code, rank.json["userId"], rank.json["rank"]) == (200, subject, 1)


def test_an_expired_token_says_so(jwks_app, provider):
    client = jwks_app().test_client()
    reply = me(client, provider.sign(claims_for("alice", expires_in=-60), "k1"))
    assert (reply.status_code, reply.json) == (
        401, {"success": False, "error": "Authentication token has expired."})


HMAC_SECRET = b"a secret that the document itself shows"
# Tokens for alice made with keys that the document holds beside ``k1`` but that must
# verify no RS256 token, or naming them on a genuine signature, or naming no key.
OTHER_KEYS = {
    "es256-key": lambda p, c: p.sign(c, "ec"),
    "es256-kid-on-an-rs256-signature": lambda p, c: p.forge({"alg": "RS256", "kid": "ec"}, c,
                                                            "k1"),
    "eddsa-key": lambda p, c: p.sign(c, "ed"),
    "encryption-key": lambda p, c: p.sign(c, "enc"),
    "rsa-key-labelled-es256": lambda p, c: p.sign(c, "mislabelled"),
    "hmac-key-of-the-document": lambda p, c: forge({"alg": "HS256", "kid": "hmac"}, c,
                                                   HMAC_SECRET),
    "hmac-kid-on-an-rs256-signature": lambda p, c: p.forge({"alg": "RS256", "kid": "hmac"},
                                                           c, "k1"),
    "genuine-signature-naming-no-kid": lambda p, c: p.forge({"alg": "RS256", "typ": "JWT"},
                                                            c, "k1"),
}


@pytest.mark.parametrize("case", OTHER_KEYS)
def test_a_key_of_another_type_use_or_algorithm_verifies_nothing(jwks_app, provider, case):
    provider.new_key("ec", "ES256")
    provider.new_key("ed", "EdDSA")
    provider.new_key("enc", publish=False)
    provider.publish("enc", use="enc")
    provider.new_key("mislabelled", publish=False)
    provider.publish("mislabelled", alg="ES256")  # PyJWT cannot read it: the set skips it
    provider.published = provider.published + [
        {"kty": "oct", "kid": "hmac", "alg": "HS256", "use": "sig", "k": b64url(HMAC_SECRET)}]
    client = jwks_app().test_client()
    assert start(client, provider.sign(claims_for("alice"), "k1")).status_code == 201

    token = OTHER_KEYS[case](provider, claims_for("alice"))
    for _ in range(2):  # also once any fetch the first prompted has come back
        assert_refused(start(client, token), 401)
        assert_refused(me(client, token), 401)
    ready = client.get("/readyz")  # the other keys spoil nothing: ``k1`` is held and works
    assert (ready.status_code, ready.json["jwks"]) == (200, "ok")
    assert start(client, provider.sign(claims_for("alice"), "k1")).status_code == 201


# --- rotation --------------------------------------------------------------------------------

def test_rotation_timeline(jwks_app, provider):
    """A new key is usable at the first token that names it, through the one fetch that
    token prompts; a withdrawn key is refused once the keys held are due again, which steady
    traffic brings about ahead of the cache time. A token accepted before is remembered
    (tokens.TokenMemory) only as long as its key is held."""
    cache, interval = 3.0, 0.5
    client = jwks_app(JWT_JWKS_CACHE_SECONDS=cache, JWT_JWKS_REFETCH_SECONDS=interval) \
        .test_client()
    old = provider.sign(claims_for("alice"), "k1")
    assert me(client, old).status_code == 200

    provider.new_key("k2")
    new = provider.sign(claims_for("bob"), "k2")
    wait_past(provider.fetches()[-1].at, interval, "the interval between fetches to pass")
    before = len(provider.fetches())
    began = time.monotonic()
    reply = me(client, new)
    new_key_usable = time.monotonic() - began
    assert reply.status_code == 200, reply.json
    assert len(provider.fetches()) == before + 1

    provider.withdraw("k1")
    held_since = provider.fetches()[-1].at  # the last document that had k1
    refused_at = wait_for(lambda: me(client, old).status_code == 401 and time.monotonic(),
                          "the withdrawn key to be refused", timeout=cache + 30)
    withdrawn_refused = refused_at - held_since
    # No fetch can come before the keys are that far into their cache time (the provider
    # sees a fetch a moment after it starts, hence the tenth of a second).
    assert withdrawn_refused >= cache * REFRESH_AHEAD - 0.1
    assert me(client, new).status_code == 200
    print(f"\nJWKS rotation: new key usable after {new_key_usable * 1000:.0f} ms (one fetch); "
          f"withdrawn key refused {withdrawn_refused:.2f} s after the last fetch that had it "
          f"(cache {cache:g} s)")


def test_a_withdrawn_key_is_refused_at_its_first_use_past_the_cache_time(jwks_app, provider):
    """With no request to refresh the keys ahead, the first one past the cache time waits
    for the fetch, and is refused."""
    cache = 1.0
    client = jwks_app(JWT_JWKS_CACHE_SECONDS=cache).test_client()
    token = provider.sign(claims_for("alice"), "k1")
    assert me(client, token).status_code == 200
    provider.new_key("k2")
    provider.withdraw("k1")
    wait_past(provider.fetches()[-1].at, cache, "the cache time to pass")
    assert_refused(me(client, token), 401)
    assert len(provider.fetches()) == 2


# --- the provider failing --------------------------------------------------------------------

FAILURES = {DOWN: "unreachable", DROPPING: "unreachable", HANGING: "unreachable",
            GARBAGE: "invalid", "no-usable-key": "invalid",
            "only-keys-of-another-algorithm": "invalid"}


def fail(provider, how: str) -> None:
    """Make the provider fail ``how``: a mode of its own, or a document with nothing we use."""
    if how == "no-usable-key":
        provider.published = [{"kty": "RSA", "kid": "broken", "n": "AQAB", "e": "nope"}]
    elif how == "only-keys-of-another-algorithm":
        provider.new_key("ec", "ES256", publish=False)
        provider.published = [provider.jwk("ec")]
    else:
        provider.mode = how


@pytest.mark.parametrize("how", FAILURES)
def test_a_provider_never_reached_leaves_the_worker_unready_and_tokens_refused(
        jwks_app, provider, backend, how):
    documents = provider.published
    fail(provider, how)
    failed = jwks_fetches(outcome=FAILURES[how])
    client = jwks_app(backend, JWT_JWKS_TIMEOUT_SECONDS=1, JWT_JWKS_REFETCH_SECONDS=0.2) \
        .test_client()
    token = provider.sign(claims_for("alice"), "k1")

    assert_refused(start(client, token), 401)
    ready = client.get("/readyz")
    assert (ready.status_code, ready.json) == (503, {"success": False, "error": NOT_READY})
    # A hanging fetch ends at its own timeout, a moment after the request gave up on it.
    wait_for(lambda: jwks_fetches(outcome=FAILURES[how]) > failed, "the failure counted")

    provider.mode, provider.published = SERVING, documents
    wait_for(lambda: client.get("/readyz").status_code == 200, "the worker to be ready")
    assert client.get("/readyz").json["jwks"] == "ok"
    assert start(client, token).status_code == 201


@pytest.mark.parametrize("how", FAILURES)
def test_while_the_provider_fails_held_keys_keep_working_past_the_cache_time(
        jwks_app, provider, how):
    cache = 1.0
    client = jwks_app(JWT_JWKS_CACHE_SECONDS=cache, JWT_JWKS_REFETCH_SECONDS=0.2,
                      JWT_JWKS_TIMEOUT_SECONDS=1).test_client()
    held = provider.sign(claims_for("alice"), "k1")
    assert start(client, held).status_code == 201
    provider.new_key("k2")
    unknown = provider.sign(claims_for("bob"), "k2")
    documents = provider.published
    fail(provider, how)
    failed = jwks_fetches(outcome=FAILURES[how])
    wait_past(provider.fetches()[-1].at, cache, "the cache time to pass")

    for _ in range(3):
        assert start(client, held).status_code == 201
        assert_refused(start(client, unknown), 401)
    ready = client.get("/readyz")
    assert (ready.status_code, ready.json["status"], ready.json["jwks"]) == (
        200, "degraded", "stale")
    wait_for(lambda: jwks_fetches(outcome=FAILURES[how]) > failed, "the failure counted")

    provider.mode, provider.published = SERVING, documents
    wait_for(lambda: start(client, unknown).status_code == 201,
             "the new key to be fetched once the provider answers")
    assert client.get("/readyz").json["jwks"] == "ok"


# --- under gunicorn's gevent worker ----------------------------------------------------------

def jwks_server(serve, redis_url, provider, **settings):
    start_server, _ = serve
    env = {"JWT_ALGORITHM": "RS256", "JWT_JWKS_URL": provider.url, **settings}
    return start_server(redis_url, **{name: str(value) for name, value in env.items()})


def test_a_hanging_provider_holds_no_request_but_the_one_that_needs_it(serve, redis_url,
                                                                       provider):
    timeout, interval = 4.0, 0.2
    server = jwks_server(serve, redis_url, provider, JWT_JWKS_TIMEOUT_SECONDS=timeout,
                         JWT_JWKS_REFETCH_SECONDS=interval)
    held = provider.sign(claims_for("alice"), "k1")
    assert call("GET", server.url + ME, headers=bearer(held))[0] == 200
    wait_past(provider.fetches()[-1].at, interval, "the interval between fetches to pass")
    provider.mode = HANGING
    provider.new_key("k2")
    unknown = provider.sign(claims_for("bob"), "k2")

    waited = {}

    def ask_with_the_unknown_kid():
        began = time.monotonic()
        waited["status"] = call("GET", server.url + ME, headers=bearer(unknown))[0]
        waited["seconds"] = time.monotonic() - began

    asking = threading.Thread(target=ask_with_the_unknown_kid)
    asking.start()
    try:
        wait_for(lambda: len(provider.fetches()) == 2, "the fetch the unknown kid prompts")
        took = []
        for _ in range(5):  # while that fetch hangs
            began = time.monotonic()
            assert call("GET", server.url + ME, headers=bearer(held))[0] == 200
            took.append(time.monotonic() - began)
    finally:
        asking.join(timeout=60)
    # A request held by the fetch would last until its deadline, seconds away.
    assert max(took) < timeout / 2, took
    assert waited["status"] == 401
    assert timeout - 0.5 <= waited["seconds"] < timeout + 10, waited
    print(f"\nJWKS hanging provider: requests with a held key took at most "
          f"{max(took) * 1000:.0f} ms; the unknown kid was refused after "
          f"{waited['seconds']:.2f} s (timeout {timeout:g} s)")


def test_a_flood_of_unknown_kids_costs_one_fetch_per_interval(serve, redis_url, provider):
    interval, flood_seconds, senders = 1.0, 4.0, 8
    server = jwks_server(serve, redis_url, provider, JWT_JWKS_REFETCH_SECONDS=interval)
    genuine = provider.sign(claims_for("alice"), "k1")
    assert call("GET", server.url + ME, headers=bearer(genuine))[0] == 200

    statuses = []
    began = time.monotonic()

    def flood():
        while time.monotonic() - began < flood_seconds:
            # Unsigned: the kid is looked up before any signature is checked.
            token = forge({"alg": "RS256", "typ": "JWT", "kid": uuid.uuid4().hex},
                          claims_for("mallory"))
            statuses.append(call("GET", server.url + ME, headers=bearer(token))[0])

    threads = [threading.Thread(target=flood) for _ in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    ended = time.monotonic()
    assert call("GET", server.url + ME, headers=bearer(genuine))[0] == 200

    fetched = provider.fetches(since=began)
    assert set(statuses) == {401} and len(statuses) > 50
    # Each interval may bring one; at least the one after the first full interval came.
    assert 2 <= len(fetched) <= (ended - began) // interval + 1, fetched
    wait_for(lambda: metric(server, "jwks_fetches_total", outcome="ok")
             == len(provider.fetches()), "every fetch counted in the metrics",
             show=lambda: metric(server, "jwks_fetches_total"))
    print(f"\nJWKS flood: {len(statuses)} requests with unknown kids in {ended - began:.1f} s "
          f"from {senders} senders cost {len(fetched)} fetches (interval {interval:g} s)")
