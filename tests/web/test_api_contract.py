"""Every status of the API contract, with the bodies exactly as the specification writes them."""

import io
from datetime import timedelta

import psycopg2
import pytest

from scoreboard import create_app
from scoreboard.core import clock
from scoreboard.data.db import db
from scoreboard.data.models import AuditEvent, User
from scoreboard.identity.auth import issue_token

from ..conftest import base_config
from ..harness.players import Player

BAD_REQUEST = {"success": False, "error": "Invalid action or request format."}
FORBIDDEN = {"success": False, "error": "Unauthorized score update attempt."}


def score_of(app, user_id):
    with app.app_context():
        user = db.session.get(User, user_id)
        return user.score if user else None


def test_actions_list_has_unlimited_and_limited_types(client):
    actions = client.get("/api/actions").json["actions"]
    assert all(
        set(a) == {"id", "points", "minSeconds", "cooldownSeconds", "dailyLimit"} for a in actions
    )
    assert any(
        a["minSeconds"] == 0 and a["cooldownSeconds"] == 0 and a["dailyLimit"] is None
        for a in actions
    )
    assert any(a["minSeconds"] > 0 for a in actions)
    assert any(a["cooldownSeconds"] > 0 for a in actions)
    assert any(a["dailyLimit"] is not None for a in actions)


def test_start_issues_single_use_ticket(player):
    alice = player("alice")
    reply = alice.start("click")
    assert reply.status_code == 201
    assert set(reply.json) == {"actionId", "actionType", "points", "expiresAt", "notBefore"}
    assert reply.json["actionType"] == "click" and reply.json["points"] == 1
    assert len(reply.json["actionId"]) >= 22  # 128 bits or more in URL-safe base64
    assert reply.json["actionId"] != alice.start("click").json["actionId"]


def test_start_needs_token_and_known_type(client, player):
    assert client.post("/api/actions/start", json={"actionType": "click"}).status_code == 401
    assert player("alice").start("no-such-action").status_code == 404


def test_update_returns_exact_success_body(app, player):
    alice = player("alice")
    ticket = alice.start("quiz").json["actionId"]
    with app.app_context():
        app.config["CLOCK"] = lambda: clock.system_now() + timedelta(seconds=6)
    reply = alice.complete(ticket)
    assert reply.status_code == 200
    assert reply.json == {"success": True, "message": "Score updated successfully.",
                          "updatedScore": 10}
    assert score_of(app, "alice") == 10


def test_repeat_of_completed_ticket_returns_same_body_and_adds_nothing(app, player):
    alice = player("alice")
    alice.play()
    ticket = alice.start().json["actionId"]
    first = alice.complete(ticket)
    again = alice.complete(ticket)
    assert again.status_code == 200 and again.json == first.json == {
        "success": True, "message": "Score updated successfully.", "updatedScore": 2}
    assert score_of(app, "alice") == 2


def test_token_in_authorization_header_is_accepted(player, client):
    alice = player("alice")
    ticket = alice.start().json["actionId"]
    reply = client.post("/api/scores/update", json={"userId": "alice", "actionId": ticket},
                        headers=alice.headers)
    assert reply.status_code == 200 and reply.json["updatedScore"] == 1


@pytest.mark.parametrize("body", [
    {"userId": "alice"},
    {"userId": 5, "actionId": "x" * 20},
    {"userId": "al ice", "actionId": "x" * 20},
    {"userId": "alice", "actionId": "short"},
    {"userId": "alice", "actionId": "x" * 20, "score": 1000},
    {"userId": "alice", "actionId": "x" * 20, "points": 1000},
    ["alice"],
])
def test_bad_body_is_400_and_changes_nothing(app, player, client, body):
    alice = player("alice")
    alice.play()
    if isinstance(body, dict):
        body = {**body, "authToken": alice.token}
    reply = client.post("/api/scores/update", json=body)
    assert reply.status_code == 400 and reply.json == BAD_REQUEST
    assert score_of(app, "alice") == 1


def test_missing_token_is_401(client, player):
    player("alice").play()
    reply = client.post("/api/scores/update", json={"userId": "alice", "actionId": "x" * 20})
    assert reply.status_code == 401
    assert reply.json["success"] is False and reply.json["error"]


def test_unknown_ticket_is_400(player):
    reply = player("alice").complete("A" * 32)
    assert reply.status_code == 400 and reply.json["success"] is False


def test_another_users_id_is_403_and_audited(app, player):
    alice, bob = player("alice"), player("bob")
    bob.play()
    ticket = alice.start().json["actionId"]
    reply = alice.complete(ticket, user_id="bob")
    assert reply.status_code == 403 and reply.json == FORBIDDEN
    assert score_of(app, "bob") == 1 and score_of(app, "alice") == 0
    with app.app_context():
        rejected = db.session.query(AuditEvent).filter_by(outcome="rejected").one()
    assert rejected.user_id == "alice" and rejected.ticket_id == ticket


def test_another_users_ticket_is_403(app, player):
    alice, bob = player("alice"), player("bob")
    ticket = alice.start().json["actionId"]
    reply = bob.complete(ticket)
    assert reply.status_code == 403 and reply.json == FORBIDDEN
    assert score_of(app, "alice") == 0 and score_of(app, "bob") is None


def test_too_soon_then_on_time(app, player):
    alice = player("alice")
    ticket = alice.start("quiz").json["actionId"]
    early = alice.complete(ticket)
    assert early.status_code == 400 and early.json["success"] is False
    app.config["CLOCK"] = lambda: clock.system_now() + timedelta(seconds=6)
    assert alice.complete(ticket).json["updatedScore"] == 10


def test_expired_ticket_is_400(app, player):
    alice = player("alice")
    ticket = alice.start().json["actionId"]
    app.config["CLOCK"] = lambda: clock.system_now() + timedelta(hours=2)
    reply = alice.complete(ticket)
    assert reply.status_code == 400 and reply.json["error"] == "Action ticket has expired."
    assert score_of(app, "alice") == 0


def test_cooldown_and_daily_limit(app, player):
    alice = player("alice")
    now = clock.system_now().replace(hour=12)
    app.config["CLOCK"] = lambda: now
    first = alice.start("level").json["actionId"]
    second = alice.start("level").json["actionId"]
    app.config["CLOCK"] = lambda: now + timedelta(seconds=31)
    assert alice.complete(first).json["updatedScore"] == 50
    cooling = alice.complete(second)
    assert cooling.status_code == 400 and cooling.json["error"] == "Action is cooling down."
    bonus = [alice.start("daily-bonus").json["actionId"] for _ in range(2)]
    assert alice.complete(bonus[0]).status_code == 200
    over = alice.complete(bonus[1])
    assert over.status_code == 400 and "Daily limit" in over.json["error"]
    assert score_of(app, "alice") == 75
    app.config["CLOCK"] = lambda: now + timedelta(days=1)
    assert alice.complete(alice.start("daily-bonus").json["actionId"]).status_code == 200


def test_rejections_are_audited(app, player):
    alice = player("alice")
    alice.complete("B" * 32)
    with app.app_context():
        event = db.session.query(AuditEvent).one()
    assert (event.outcome, event.user_id, event.delta) == ("rejected", "alice", 0)
    assert event.reason == "Unknown action ticket." and event.request_id


@pytest.mark.parametrize("data", [
    pytest.param(b'{"displayName": ' + b"[" * 2000 + b"]" * 2000 + b"}",
                 id="nested-past-the-parsers-limit"),
    pytest.param(b'{"displayName": "Al\\ud800ice"}', id="lone-surrogate-escape"),
    pytest.param(b'{"displayName": "Al\xed\xa0\x80ice"}', id="surrogate-in-utf8"),
    pytest.param('{"displayName": "Al\\udfffice"}'.encode("utf-16"), id="utf-16"),
])
def test_json_that_nothing_could_use_is_400_and_changes_nothing(player, data):
    """Python's parser raises RecursionError past its depth (which Flask's silent parse
    does not catch) and takes unpaired surrogates, which no database stores: both are
    malformed JSON here (web/replies.StrictJSON)."""
    alice = player("alice", name="Alice")
    reply = alice.client.put("/api/users/me", data=data, content_type="application/json",
                             headers=alice.headers)
    assert reply.status_code == 400 and reply.json == BAD_REQUEST
    # A route that reads only a token from the body looks for it in the header instead.
    profile = alice.client.get("/api/users/me", data=data, content_type="application/json",
                               headers=alice.headers)
    assert profile.status_code == 200 and profile.json["displayName"] == "Alice"


def test_the_audit_keeps_the_forwarded_address_and_refuses_what_is_none(make_app, backend):
    app = make_app(backend, PROXY_HOPS=1)
    client = app.test_client()
    with app.app_context():
        alice = Player("alice", issue_token("alice"), client)
    ticket = alice.start().json["actionId"]
    body = {"userId": "alice", "actionId": ticket}
    for forwarded in ("a" * 300, "198.51.100.2\x00", "203.0.113.7, not-an-address"):
        reply = client.post("/api/scores/update", json=body,
                            headers={**alice.headers, "X-Forwarded-For": forwarded})
        assert reply.status_code == 400 and reply.json == {
            "success": False, "error": "X-Forwarded-For must end with the client's IP address."}
    reply = client.post("/api/scores/update", json=body,
                        headers={**alice.headers, "X-Forwarded-For": "203.0.113.7, 2001:db8::1"})
    assert reply.status_code == 200
    with app.app_context():
        events = [(e.outcome, e.client_ip) for e in db.session.query(AuditEvent)]
    assert events == [("accepted", "2001:db8::1")]


def test_oversized_body_is_413(client, player):
    alice = player("alice")
    reply = client.post("/api/scores/update", data="{" + " " * 10000 + "}",
                        content_type="application/json", headers=alice.headers)
    assert reply.status_code == 413 and reply.json["success"] is False


def test_non_json_body_is_rejected(client, player):
    alice = player("alice")
    reply = client.post("/api/scores/update", data="userId=alice", headers=alice.headers,
                        content_type="application/x-www-form-urlencoded")
    assert reply.status_code == 415 and reply.json["success"] is False
    broken = client.post("/api/scores/update", data="{not json",
                         content_type="application/json", headers=alice.headers)
    assert broken.status_code == 400 and broken.json == BAD_REQUEST


def test_update_rate_limited_per_user_with_retry_after(make_app, backend):
    app = make_app(backend, RATELIMIT_UPDATE="2/minute")
    client = app.test_client()
    with app.app_context():
        alice = Player("alice", issue_token("alice"), client)
        bob = Player("bob", issue_token("bob"), client)
    alice.play(), alice.play()
    limited = alice.complete(alice.start().json["actionId"])
    assert limited.status_code == 429 and limited.json["success"] is False
    assert int(limited.headers["Retry-After"]) > 0
    assert bob.play() == 1  # another user's budget is untouched


def test_ip_rate_limit_applies_before_authentication(make_app, backend):
    client = make_app(backend, RATELIMIT_IP="3/minute").test_client()
    replies = [client.post("/api/scores/update", json={}) for _ in range(4)]
    assert [r.status_code for r in replies] == [400, 400, 400, 429]
    assert "Retry-After" in replies[-1].headers


def test_ip_rate_limit_counts_good_and_refused_writes_alike(make_app, backend):
    app = make_app(backend, RATELIMIT_IP="4/minute")
    client = app.test_client()
    with app.app_context():
        alice = Player("alice", issue_token("alice"), client)
    assert [alice.start().status_code for _ in range(2)] == [201, 201]
    assert client.post("/api/scores/update", json={}).status_code == 400
    assert alice.complete("not-a-ticket-at-all").status_code == 400  # reached the service
    over = alice.start()
    assert over.status_code == 429 and int(over.headers["Retry-After"]) > 0
    assert client.post("/api/scores/update", json={}).status_code == 429
    with app.app_context():  # neither an address's 429 nor a malformed body is audited
        assert [e.reason for e in db.session.query(AuditEvent)] == ["Unknown action ticket."]


def test_ip_rate_limit_applies_to_board_reads(make_app, backend):
    client = make_app(backend, RATELIMIT_IP="3/minute").test_client()
    replies = [client.get("/api/scores/top") for _ in range(4)]
    assert [r.status_code for r in replies] == [200, 200, 200, 429]
    assert replies[-1].json == {"success": False, "error": "Too many requests. Try again later."}
    assert 0 < int(replies[-1].headers["Retry-After"]) <= 60


def test_probes_are_never_rate_limited(make_app, backend):
    client = make_app(backend, RATELIMIT_IP="2/minute").test_client()
    for path in ("/healthz", "/readyz", "/metrics"):
        assert [client.get(path).status_code for _ in range(4)] == [200] * 4, path
    # ...while an ordinary route of Flask-Limiter's still counts this address.
    assert [client.get("/api/actions").status_code for _ in range(3)] == [200, 200, 429]


def test_the_page_is_never_rate_limited(make_app, backend):
    client = make_app(backend, RATELIMIT_IP="2/minute").test_client()
    for path in ("/", "/embed"):
        assert [client.get(path).status_code for _ in range(3)] == [200] * 3, path
    assert [client.get("/api/actions").status_code for _ in range(3)] == [200, 200, 429]


def test_top_shape_order_limit_and_etag(app, player, client):
    for name, plays in (("carol", 2), ("alice", 3), ("bob", 2)):
        p = player(name, name=name.title())
        for _ in range(plays):
            p.play()
    reply = client.get("/api/scores/top")
    assert reply.status_code == 200
    body = reply.json
    assert body["topScores"] == [
        {"userId": "alice", "score": 3, "rank": 1, "displayName": "Alice"},
        {"userId": "carol", "score": 2, "rank": 2, "displayName": "Carol"},  # reached 2 first
        {"userId": "bob", "score": 2, "rank": 3, "displayName": "Bob"},
    ]
    assert isinstance(body["version"], int)
    assert len(client.get("/api/scores/top?limit=1").json["topScores"]) == 1
    etag = reply.headers["ETag"]
    assert not etag.startswith("W/")
    assert client.get("/api/scores/top", headers={"If-None-Match": etag}).status_code == 304
    player("alice").play()
    assert client.get("/api/scores/top", headers={"If-None-Match": etag}).status_code == 200


@pytest.mark.parametrize("limit", ["0", "101", "abc", "-1"])
def test_top_bad_limit_is_400(client, limit):
    reply = client.get(f"/api/scores/top?limit={limit}")
    assert reply.status_code == 400 and reply.json["success"] is False


def test_errors_everywhere_are_json(client):
    for reply, status in ((client.get("/nowhere"), 404), (client.put("/api/scores/top"), 405)):
        assert reply.status_code == status and reply.is_json
        assert reply.json["success"] is False and reply.json["error"]


def test_unexpected_error_is_json_500_without_trace(app):
    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    reply = app.test_client().get("/boom")
    assert reply.status_code == 500
    assert reply.json == {"success": False, "error": "Internal server error."}


def test_database_unreachable_is_503():
    app = create_app(base_config("postgresql://nobody@127.0.0.1:1/none", None))
    with app.app_context():
        token = issue_token("alice")
    client = app.test_client()
    reply = client.post("/api/scores/update",
                        json={"userId": "alice", "authToken": token, "actionId": "C" * 32})
    assert reply.status_code == 503 and reply.json["success"] is False
    assert client.get("/api/scores/top").status_code == 503


def test_player_who_never_scored_is_not_on_the_board(player, client):
    player("alice").start()
    reply = client.get("/api/scores/top")
    assert reply.json["topScores"] == [] and reply.json["version"] == 0


def test_odd_digit_limit_is_400_not_500(client):
    assert client.get("/api/scores/top?limit=\u00b2").status_code == 400


def test_refusals_are_audited_with_their_action_type(app, player):
    alice = player("alice")
    ticket = alice.start("quiz").json["actionId"]
    assert alice.complete(ticket).status_code == 400  # too soon
    with app.app_context():
        event = db.session.query(AuditEvent).filter_by(outcome="rejected").one()
    assert event.action_type == "quiz" and event.reason == "Action completed too soon."


def test_rate_limited_update_is_audited(make_app, backend):
    app = make_app(backend, RATELIMIT_UPDATE="1/minute")
    client = app.test_client()
    with app.app_context():
        alice = Player("alice", issue_token("alice"), client)
    alice.play()
    assert alice.complete(alice.start().json["actionId"]).status_code == 429
    with app.app_context():
        events = sorted((e.outcome, e.count) for e in db.session.query(AuditEvent))
    assert events == [("accepted", 1), ("rate_limited", 1)]


def test_chunked_body_over_the_limit_is_413(client, player):
    alice = player("alice")
    big = ('{"userId": "alice", "actionId": "' + "x" * 5000 + '"}').encode()
    reply = client.post("/api/scores/update", input_stream=io.BytesIO(big),
                        content_type="application/json", headers=alice.headers,
                        environ_overrides={"wsgi.input_terminated": True})
    assert reply.status_code == 413 and reply.json["success"] is False


def test_database_lock_wait_is_503_not_a_hang(make_app, database_url, redis_url):
    app = make_app("postgres", DATABASE_LOCK_TIMEOUT_MS=200)
    client = app.test_client()
    with app.app_context():
        alice = Player("alice", issue_token("alice"), client)
    ticket = alice.start().json["actionId"]
    holder = psycopg2.connect(database_url)
    try:
        holder.cursor().execute("SELECT 1 FROM action_tickets WHERE id = %s FOR UPDATE",
                                (ticket,))
        reply = alice.complete(ticket)
        assert reply.status_code == 503 and reply.json["success"] is False
    finally:
        holder.rollback()
        holder.close()
    assert alice.complete(ticket).json["updatedScore"] == 1


@pytest.mark.parametrize("method, path", [
    ("GET", "/api/scores/users/a%00b"),
    ("GET", "/api/scores/users/a%00b/around"),
    ("GET", "/api/scores/users/" + "a" * 65),
    ("GET", "/api/groups/a%00b"),
    ("DELETE", "/api/groups/a%00b"),
    ("POST", "/api/groups/a%00b/members"),
    ("DELETE", "/api/groups/abc/members/a%00b"),
    ("POST", "/api/admin/players/a%00b/hide"),
])
def test_an_id_no_player_or_group_can_have_is_a_json_404(client, method, path):
    """Before any view runs, so no query carries it: PostgreSQL refuses a NUL with an error."""
    with client.application.app_context():
        token = issue_token("alice", role="admin")
    reply = client.open(path, method=method, json={"userId": "bob", "reason": "x"},
                        headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 404 and reply.json["success"] is False
