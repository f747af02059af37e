"""A ban through the test client: every write route of the API refuses a banned player's
token and changes nothing, the reads stay open, a start sent while a ban is under way
leaves no ticket that the unban revives, and the check costs start and update no database
round trip (counted on the driver's connections, PostgreSQL)."""

import pytest
from sqlalchemy import func, select, text

from scoreboard.data.db import db
from scoreboard.data.models import ActionTicket, AuditEvent
from scoreboard.play import moderation
from scoreboard.web import api

from ..conftest import TABLES
from ..harness.databases import counting_round_trips, holding, lock_waits
from ..harness.players import Player, token_for
from ..harness.waiting import InBackground, wait_for

BANNED = {"success": False, "error": "Player is banned."}


def player(app, client, user_id) -> Player:
    return Player(user_id, token_for(app, user_id), client)


def send(who: Player, method: str, path: str, body=None):
    return who.client.open(path, method=method, json=body, headers=who.headers)


def act(client, app, path: str, user_id="ben"):
    """An admin's act on a player (``ban``, ``unban``) through the API."""
    headers = {"Authorization": f"Bearer {token_for(app, 'root', role='admin')}"}
    reply = client.post(f"/api/admin/players/{user_id}/{path}", json={"reason": "test"},
                        headers=headers)
    assert reply.status_code == 200, reply.json


@pytest.fixture
def world(app, client):
    """ben has played, owns a group with an invitation pending, is a member of ann's
    group, is invited to two more, and holds a ticket: a valid request of each write
    route, in an order in which each would succeed. Returns ben and those requests."""
    ann, ben = player(app, client, "ann"), player(app, client, "ben")
    ben.play()

    def group(owner, name):
        return send(owner, "POST", "/api/groups", {"name": name}).json["groupId"]

    def invite(owner, group_id, user_id):
        assert send(owner, "POST", f"/api/groups/{group_id}/members",
                    {"userId": user_id}).status_code == 201

    mine, joined, offered, declined = (group(ben, "Ben's"), group(ann, "Joined"),
                                       group(ann, "Offered"), group(ann, "Declined"))
    invite(ben, mine, "dan")
    for group_id in (joined, offered, declined):
        invite(ann, group_id, "ben")
    assert send(ben, "POST", f"/api/groups/{joined}/join").status_code == 200
    ticket = ben.start().json["actionId"]
    writes = [
        ("api.start_action", "POST", "/api/actions/start", {"actionType": "click"}),
        ("api.update_score", "POST", "/api/scores/update",
         {"userId": "ben", "actionId": ticket}),
        ("api.update_my_profile", "PUT", "/api/users/me", {"displayName": "Benny"}),
        ("api.create_group", "POST", "/api/groups", {"name": "New"}),
        ("api.invite_group_member", "POST", f"/api/groups/{mine}/members", {"userId": "cat"}),
        ("api.revoke_group_invitation", "DELETE", f"/api/groups/{mine}/invitations/dan", None),
        ("api.join_group", "POST", f"/api/groups/{offered}/join", None),
        ("api.decline_invitation", "DELETE", f"/api/users/me/invitations/{declined}", None),
        ("api.remove_group_member", "DELETE", f"/api/groups/{joined}/members/ben", None),
        ("api.delete_group", "DELETE", f"/api/groups/{mine}", None),
    ]
    return ben, joined, writes


def rows(app) -> dict:
    """Every row of every table but the audit log's, as text."""
    with app.app_context():
        found = {table: sorted(db.session.execute(text(f"SELECT * FROM {table}")).all())
                 for table in TABLES if table != "audit_events"}
        db.session.rollback()
    return {table: [tuple(map(str, row)) for row in found_rows]
            for table, found_rows in found.items()}


def audited(app, **where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AuditEvent)
                                 .filter_by(**where))


def test_every_write_route_refuses_a_banned_player_and_changes_nothing(app, client, world):
    ben, _, writes = world
    routes = {rule.endpoint for rule in app.url_map.iter_rules()
              for method in rule.methods if api.refuses_banned(rule.endpoint, method)}
    assert {endpoint for endpoint, *_ in writes} == routes  # a new write route: add it here
    act(client, app, "ban")
    before, refusals = rows(app), audited(app, outcome="rejected")
    for endpoint, method, path, body in writes:
        reply = send(ben, method, path, body)
        assert (reply.status_code, reply.json) == (403, BANNED), endpoint
    assert rows(app) == before
    # The update alone is audited, as every refused completion is.
    assert audited(app, outcome="rejected", reason="Player is banned.") == refusals + 1
    act(client, app, "unban")
    # Unbanned, the same requests are served: the ban was their only fault. The ticket the
    # ban voided stays void.
    for endpoint, method, path, body in writes:
        reply = send(ben, method, path, body)
        if endpoint == "api.update_score":
            assert reply.json["error"] == "Action ticket has expired."
        else:
            assert reply.status_code in (200, 201), (endpoint, reply.json)


def test_a_banned_player_still_reads_and_may_sign_out(app, client, world):
    ben, joined, _ = world
    act(client, app, "ban")
    for path in ("/api/scores/top", "/api/scores/top?period=week", "/api/scores/users/ben",
                 "/api/scores/users/ben/around", "/api/users/me", "/api/users/me/groups",
                 "/api/users/me/invitations", f"/api/groups/{joined}", "/api/actions"):
        assert send(ben, "GET", path).status_code == 200, path
    assert send(ben, "POST", "/api/auth/revoke").status_code == 200
    assert send(ben, "GET", "/api/users/me").status_code == 401  # revoked: signed out


def test_a_start_sent_while_a_ban_is_under_way_leaves_nothing_to_spend(make_app,
                                                                     database_url):
    """The interleaving tests/play/test_bans.py forces, through the API: the ban holds the
    player while it waits on a ticket's lock, and a start comes meanwhile."""
    app = make_app("postgres")
    ben = player(app, app.test_client(), "ben")
    ben.play()
    stalling = ben.start().json["actionId"]
    with holding(database_url, "SELECT 1 FROM action_tickets WHERE id = %s FOR UPDATE",
                 stalling):
        banning = InBackground(lambda: act(app.test_client(), app, "ban"))
        wait_for(lambda: lock_waits(database_url) == 1, "the ban to hold the player and wait")
        starting = InBackground(lambda: player(app, app.test_client(), "ben").start())
        wait_for(lambda: lock_waits(database_url) == 2, "the start to wait for the ban")
    banning.result()
    refused = starting.result()
    assert (refused.status_code, refused.json) == (403, BANNED)
    act(app.test_client(), app, "unban")
    with app.app_context():
        tickets = db.session.scalars(select(ActionTicket.id).where(
            ActionTicket.completed_at.is_(None))).all()
    assert tickets == [stalling]
    reply = ben.complete(stalling)
    assert (reply.status_code, reply.json["error"]) == (400, "Action ticket has expired.")
    assert ben.play() == 2  # the ticket of before the ban added nothing


def test_the_ban_costs_start_and_update_no_round_trip_and_other_writes_one(make_app):
    sent = []
    app = make_app("postgres", SQLALCHEMY_ENGINE_OPTIONS=counting_round_trips(sent))
    client = app.test_client()
    ann, ben = player(app, client, "ann"), player(app, client, "ben")
    for who in (ann, ben):
        who.play()  # each known, with a row and pooled connections warm
    sent.clear()
    ticket = ben.start()
    assert (ticket.status_code, len(sent)) == (201, 1), sent
    sent.clear()
    assert ben.complete(ticket.json["actionId"]).status_code == 200
    assert len(sent) == 1, sent
    with app.app_context():
        moderation.ban(moderation.Actor("root"), "ben", "bot")
    sent.clear()
    refused = ben.start()
    assert (refused.status_code, len(sent)) == (403, 1), sent
    checks = []
    for who in (ann, ben):
        sent.clear()
        send(who, "PUT", "/api/users/me", {"displayName": "Someone"})
        checks.append([q for q in sent if str(q).startswith("SELECT users.banned \nFROM")])
    assert [len(found) for found in checks] == [1, 1]  # for ann, one more than the write's
    assert sent == ["BEGIN", *checks[1], "ROLLBACK"]  # a banned player's write: only that
