"""The moderation API through the Flask test client: who may use it, what each endpoint
answers, what a bad request gets, and what a banned player's actions get."""

import pytest
from sqlalchemy import func, select

from scoreboard.data.db import db
from scoreboard.data.models import AuditEvent, User

from ..harness.players import play, stop_clock, token_for


@pytest.fixture
def admin(app, client):
    """``admin.post(path, body)`` and ``admin.get(path)`` with an admin's token."""
    headers = {"Authorization": f"Bearer {token_for(app, 'root', role='admin')}"}

    class Admin:
        @staticmethod
        def post(path, body, more_headers=None):
            return client.post(f"/api/admin{path}", json=body,
                               headers={**headers, **(more_headers or {})})

        @staticmethod
        def get(path):
            return client.get(f"/api/admin{path}", headers=headers)

    return Admin


def ben_and_ann(player):
    """ben with 3 points and ann with 1; returns ben."""
    ben = player("ben", name="Ben")
    for _ in range(3):
        ben.play()
    player("ann", name="Ann").play()
    return ben


@pytest.fixture
def ben(player):
    return ben_and_ann(player)


def audited(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AuditEvent))


def top(client):
    return [(e["userId"], e["score"]) for e in client.get("/api/scores/top").json["topScores"]]


def test_no_token_is_401_and_a_player_is_403(app, client, ben):
    body = {"reason": "cheating"}
    paths = ["/players/ben/hide", "/players/ben/unhide", "/players/ben/ban",
             "/players/ben/unban"]
    for path in paths:
        assert client.post(f"/api/admin{path}", json=body).status_code == 401
    assert client.get("/api/admin/audit").status_code == 401
    for claims in ({}, {"role": "player"}, {"role": "Admin"}):
        headers = {"Authorization": f"Bearer {token_for(app, 'mallory', **claims)}"}
        for path in paths:
            reply = client.post(f"/api/admin{path}", json=body, headers=headers)
            assert (reply.status_code, reply.json) == (
                403, {"success": False, "error": "Admin role required."})
        reply = client.post("/api/admin/players/ben/adjust", json={"delta": 5, **body},
                            headers=headers)
        assert reply.status_code == 403
        assert client.get("/api/admin/audit", headers=headers).status_code == 403
    assert top(client) == [("ben", 3), ("ann", 1)]


def test_admin_roles_is_a_setting(make_app, backend):
    app = make_app(backend, ADMIN_ROLES=frozenset({"moderator", "ops"}))
    client = app.test_client()
    play(app, "ben")
    for role, status in (("moderator", 200), ("ops", 200), ("admin", 403)):
        headers = {"Authorization": f"Bearer {token_for(app, 'root', role=role)}"}
        reply = client.post("/api/admin/players/ben/hide", json={"reason": "test"},
                            headers=headers)
        assert reply.status_code == status, role


def test_a_revoked_admin_token_is_401(app, client, ben):
    token = token_for(app, "root", role="admin")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/auth/revoke", headers=headers).status_code == 200
    reply = client.post("/api/admin/players/ben/hide", json={"reason": "x"}, headers=headers)
    assert reply.status_code == 401


def test_each_act_replies_as_documented(client, admin, ben):
    for path, reply in (("hide", {"userId": "ben", "hidden": True}),
                        ("unhide", {"userId": "ben", "hidden": False}),
                        ("ban", {"userId": "ben", "banned": True}),
                        ("unban", {"userId": "ben", "banned": False})):
        answer = admin.post(f"/players/ben/{path}", {"reason": "testing"})
        assert (answer.status_code, answer.json) == (200, reply), path
    answer = admin.post("/players/ann/adjust", {"delta": -1, "reason": "testing"})
    assert (answer.status_code, answer.json) == (200, {"userId": "ann", "score": 0})


def test_hide_leaves_the_board_and_the_ranks_unhide_brings_back(client, admin, ben):
    before = client.get("/api/scores/top").json
    assert admin.post("/players/ben/hide", {"reason": "cheating"}).status_code == 200
    after = client.get("/api/scores/top").json
    assert after["version"] > before["version"]
    assert [e["userId"] for e in after["topScores"]] == ["ann"]
    assert client.get("/api/scores/users/ben").json["rank"] is None
    assert client.get("/api/scores/users/ann").json["rank"] == 1
    assert admin.post("/players/ben/unhide", {"reason": "appeal"}).status_code == 200
    assert top(client) == [("ben", 3), ("ann", 1)]


def test_a_hidden_player_plays_on_and_is_still_off_the_board(client, admin, ben):
    admin.post("/players/ben/hide", {"reason": "cheating"})
    assert ben.play() == 4
    assert top(client) == [("ann", 1)]


def test_a_banned_player_cannot_start_or_complete_an_action(app, client, admin, ben):
    started = ben.start().json["actionId"]
    assert admin.post("/players/ben/ban", {"reason": "bot"}).status_code == 200
    refused = ben.start()
    assert (refused.status_code, refused.json) == (
        403, {"success": False, "error": "Player is banned."})
    refused = ben.complete(started)
    assert (refused.status_code, refused.json) == (
        403, {"success": False, "error": "Player is banned."})
    assert top(client) == [("ann", 1)]
    with app.app_context():
        assert db.session.get(User, "ben").score == 3
    admin.post("/players/ben/unban", {"reason": "human"})
    refused = ben.complete(started)  # the ban voided it, and the unban does not revive it
    assert (refused.status_code, refused.json["error"]) == (400, "Action ticket has expired.")
    assert ben.play() == 4  # playing again, still hidden until unhidden
    assert top(client) == [("ann", 1)]


def test_a_banned_admin_can_do_nothing_on_the_admin_api_until_another_lifts_it(
        app, client, admin, ben):
    play(app, "root")  # the admin plays too, so has a player's row to ban
    ops = {"Authorization": f"Bearer {token_for(app, 'ops', role='admin')}"}
    assert client.post("/api/admin/players/root/ban", json={"reason": "rogue"},
                       headers=ops).status_code == 200
    before, count = top(client), audited(app)
    for reply in (admin.post("/players/ben/hide", {"reason": "x"}),
                  admin.post("/players/ann/adjust", {"delta": 5, "reason": "x"}),
                  admin.post("/players/root/unban", {"reason": "it was me"}),
                  admin.get("/audit")):
        assert (reply.status_code, reply.json) == (
            403, {"success": False, "error": "Player is banned."})
    assert (top(client), audited(app)) == (before, count)
    assert client.post("/api/admin/players/root/unban", json={"reason": "cleared"},
                       headers=ops).status_code == 200
    assert admin.post("/players/ben/hide", {"reason": "cheating"}).status_code == 200


def test_an_admin_may_ban_themself_and_is_then_refused(client, admin, ben, app):
    play(app, "root")
    assert admin.post("/players/root/ban", {"reason": "test"}).json == {
        "userId": "root", "banned": True}
    assert admin.get("/audit").status_code == 403


def test_adjust_moves_the_board(app, client, admin, player):
    stop_clock(app)  # the plays, the adjustment and the read of today's board: one UTC day
    ben_and_ann(player)
    answer = admin.post("/players/ann/adjust", {"delta": 10, "reason": "refund"})
    assert answer.json == {"userId": "ann", "score": 11}
    assert top(client) == [("ann", 11), ("ben", 3)]
    assert client.get("/api/scores/top?period=day").json["topScores"][0]["score"] == 11


@pytest.mark.parametrize("path, body, message", [
    ("hide", {}, None),
    ("hide", {"reason": "x", "extra": 1}, None),
    ("hide", {"reason": 5}, None),
    ("hide", ["reason"], None),
    ("hide", {"reason": ""}, "reason must be 1 to 200 printable characters."),
    ("ban", {"reason": " \t "}, "reason must be 1 to 200 printable characters."),
    ("unhide", {"reason": "x" * 201}, "reason must be 1 to 200 printable characters."),
    ("adjust", {"reason": "x"}, None),
    ("adjust", {"delta": 5}, None),
    ("adjust", {"delta": "5", "reason": "x"}, None),
    ("adjust", {"delta": 1.5, "reason": "x"}, None),
    ("adjust", {"delta": True, "reason": "x"}, None),
    ("adjust", {"delta": None, "reason": "x"}, None),
    ("adjust", {"delta": 0, "reason": "x"},
     "delta must be a whole number from -1000000 to 1000000, not 0."),
    ("adjust", {"delta": 10**30, "reason": "x"},
     "delta must be a whole number from -1000000 to 1000000, not 0."),
    ("adjust", {"delta": -4, "reason": "x"},
     "The score is 3: an adjustment cannot take it below 0."),
])
def test_a_bad_body_is_400_and_changes_nothing(app, client, admin, ben, path, body, message):
    before, count = top(client), audited(app)
    reply = admin.post(f"/players/ben/{path}", body)
    assert reply.status_code == 400
    assert reply.json == {"success": False,
                          "error": message or "Invalid action or request format."}
    assert (top(client), audited(app)) == (before, count)


def test_an_act_repeated_with_its_idempotency_key_is_applied_once(app, client, admin, ben):
    key = {"Idempotency-Key": "7f7c2a5e-refund-ann"}
    replies = [admin.post("/players/ann/adjust", {"delta": 10, "reason": "refund"}, key)
               for _ in range(2)]
    assert [(r.status_code, r.json) for r in replies] == [(200, {"userId": "ann",
                                                                 "score": 11})] * 2
    assert top(client) == [("ann", 11), ("ben", 3)]
    reused = admin.post("/players/ann/adjust", {"delta": 9, "reason": "refund"}, key)
    assert (reused.status_code, reused.json) == (
        422, {"success": False, "error": "Idempotency-Key was used for another request."})
    assert top(client) == [("ann", 11), ("ben", 3)] and audited(app) == 5


def test_without_a_key_each_request_is_an_act_of_its_own(app, client, admin, ben):
    for score in (4, 5):
        reply = admin.post("/players/ben/adjust", {"delta": 1, "reason": "bonus"})
        assert reply.json == {"userId": "ben", "score": score}
    assert top(client) == [("ben", 5), ("ann", 1)]


@pytest.mark.parametrize("key", ["", "a b", "x" * 65, "caf\u00e9"])
def test_a_malformed_idempotency_key_is_400_and_changes_nothing(app, client, admin, ben, key):
    before, count = top(client), audited(app)
    reply = admin.post("/players/ben/hide", {"reason": "x"}, {"Idempotency-Key": key})
    assert (reply.status_code, reply.json) == (400, {
        "success": False,
        "error": "Idempotency-Key must be 1 to 64 visible ASCII characters."})
    assert (top(client), audited(app)) == (before, count)


def test_a_body_that_is_not_json_is_415(app, client, ben):
    headers = {"Authorization": f"Bearer {token_for(app, 'root', role='admin')}"}
    reply = client.post("/api/admin/players/ben/hide", data="reason=x", headers=headers)
    assert reply.status_code == 415


@pytest.mark.parametrize("authorization", [None, "Bearer", "Basic x"])
@pytest.mark.parametrize("body", ["5", "[1]", '"reason"', "null"])
def test_json_that_is_no_object_without_a_token_is_401(client, ben, body, authorization):
    # The token may be in a body; one that is no object has none (it was a 500).
    headers = {"Authorization": authorization} if authorization else {}
    reply = client.post("/api/admin/players/ben/hide", data=body, headers=headers,
                        content_type="application/json")
    assert reply.status_code == 401 and reply.json["success"] is False


@pytest.mark.parametrize("user_id", ["nobody", "a%00b", "x" * 65])
@pytest.mark.parametrize("path, body", [("hide", {"reason": "x"}),
                                        ("adjust", {"delta": 3, "reason": "x"})])
def test_an_unknown_player_is_404(app, admin, ben, path, body, user_id):
    count = audited(app)
    reply = admin.post(f"/players/{user_id}/{path}", body)
    # An id no player can have matches no route at all (api.PlayerId).
    error = "No such player." if user_id == "nobody" else "Not found."
    assert (reply.status_code, reply.json) == (404, {"success": False, "error": error})
    assert audited(app) == count


def test_the_audit_log_pages_newest_first(app, client, admin, ben):
    admin.post("/players/ben/hide", {"reason": "cheating"}, {"X-Request-ID": "req-hide-1"})
    page = admin.get("/audit?limit=2").json
    assert [e["outcome"] for e in page["events"]] == ["hidden", "accepted"]
    hidden = page["events"][0]
    assert hidden | {"id": 0, "at": ""} == {
        "id": 0, "at": "", "userId": "ben", "actor": "root", "outcome": "hidden",
        "actionType": None, "delta": 0, "scoreAfter": 3, "reason": "cheating", "count": 1,
        "requestId": "req-hide-1", "clientIp": "127.0.0.1"}
    assert hidden["at"].endswith("Z")
    seen = [e["id"] for e in page["events"]]
    while page["next"] is not None:
        page = admin.get(f"/audit?limit=2&before={page['next']}").json
        seen += [e["id"] for e in page["events"]]
    assert seen == sorted(seen, reverse=True) and len(seen) == audited(app) == 5
    bens = admin.get("/audit?userId=ben&outcome=accepted").json
    assert [e["userId"] for e in bens["events"]] == ["ben"] * 3 and bens["next"] is None
    assert admin.get("/audit?userId=&outcome=&before=&limit=").json["events"][0] == hidden
    assert admin.get(f"/audit?before={2**63 - 1}").json["events"][0] == hidden


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=x", "outcome=won",
                                   "before=0", "before=-3", "before=abc", "userId=a%20b",
                                   f"before={2**63}"])
def test_a_bad_audit_query_is_400(admin, ben, query):
    reply = admin.get(f"/audit?{query}")
    assert reply.status_code == 400 and reply.json["success"] is False


def test_a_listed_origin_may_call_the_admin_api_after_a_preflight(make_app, backend):
    app = make_app(backend, CORS_ORIGINS=("https://ops.example.com",))
    client = app.test_client()
    play(app, "ben")
    origin = {"Origin": "https://ops.example.com"}
    preflight = client.options("/api/admin/players/ben/hide", headers={
        **origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://ops.example.com"
    reply = client.post("/api/admin/players/ben/hide", json={"reason": "x"}, headers={
        **origin, "Authorization": f"Bearer {token_for(app, 'root', role='admin')}"})
    assert reply.status_code == 200
    assert reply.headers["Access-Control-Allow-Origin"] == "https://ops.example.com"
