"""Stream tickets through the API, on both backends: POST /api/streams/tickets hands a
member a single-use ticket for one view, and GET /api/scores/stream spends it, checking the
player again; a token in the stream's URL is refused. The Flask test client cannot stream:
a 503 that says so means the request got past every check (the real server's streams:
tests/live/test_stream_endings.py)."""

import json
from datetime import datetime

import jsonschema_rs
import pytest

from scoreboard import adapters
from scoreboard.boards import views
from scoreboard.web import stream

from ..harness.players import Player, add_members, token_for
from ..harness.servers import call

TICKETS = "/api/streams/tickets"
STREAM = "/api/scores/stream"
STREAM_WITHOUT_GEVENT = "Streaming needs the gunicorn gevent worker; poll /api/scores/top."


@pytest.fixture
def crew(player):
    """Alice's group with Bob in it; Eve is not a member."""
    alice, bob, eve = player("alice"), player("bob"), player("eve")
    created = alice.client.post("/api/groups", json={"name": "Crew"}, headers=alice.headers)
    assert created.status_code == 201, created.json
    add_members(alice, created.json["groupId"], bob)
    return created.json["groupId"], alice, bob, eve


def ask(who, **view):
    return who.client.post(TICKETS, json=view, headers=who.headers)


def ticket_of(who, **view) -> str:
    reply = ask(who, **view)
    assert reply.status_code == 201, reply.json
    return reply.json["ticket"]


def open_with(client, ticket, query):
    return client.get(f"{STREAM}?{query}&ticket={ticket}" if query else
                      f"{STREAM}?ticket={ticket}")


def passed(reply) -> bool:
    """Whether the stream got past every check (only streaming itself is missing here)."""
    return (reply.status_code, reply.json["error"]) == (503, STREAM_WITHOUT_GEVENT)


def test_a_member_gets_a_ticket_that_opens_the_stream_once(app, crew):
    group_id, alice, bob, _ = crew
    reply = ask(bob, group=group_id, period="week")
    assert reply.status_code == 201 and set(reply.json) == {"ticket", "expiresIn"}
    ticket = reply.json["ticket"]
    assert stream.TICKET.fits(ticket)
    assert reply.json["expiresIn"] == app.config["STREAM_TICKET_SECONDS"] == 30
    query = f"group={group_id}&period=week"
    assert passed(open_with(bob.client, ticket, query))
    again = open_with(bob.client, ticket, query)
    assert (again.status_code, again.json) == (401, {
        "success": False, "error": "Unknown, used or expired stream ticket: ask for a new one."})
    # Tickets are unguessable and each one new.
    assert len({ticket_of(bob, group=group_id) for _ in range(20)}) == 20


def test_only_members_and_only_with_a_token_get_a_groups_ticket(crew):
    group_id, alice, _, eve = crew
    assert ask(eve, group=group_id).status_code == 403
    assert ask(alice, group="nosuchgroup").status_code == 404
    unsigned = alice.client.post(TICKETS, json={"group": group_id})
    assert unsigned.status_code == 401
    # The token goes in the header only: not in the body, whose fields are the view's.
    in_body = alice.client.post(TICKETS, json={"group": group_id, "authToken": alice.token})
    assert in_body.status_code == 400


@pytest.mark.parametrize("body, status", [
    ({"group": 5}, 400), ({"group": None}, 400), ({"region": "DE", "group": "crew"}, 400),
    ({"at": "2026-W48"}, 400), ({"period": "month"}, 400), ({"limit": "5"}, 400),
    ({"period": "day", "at": "2026-02-30"}, 404), ([], 400), ("week", 400)])
def test_a_bad_view_is_refused_as_the_streams_query_would_be(player, body, status):
    alice = player("alice")
    reply = alice.client.post(TICKETS, json=body, headers=alice.headers)
    assert reply.status_code == status and reply.json["success"] is False
    assert alice.client.post(TICKETS, data="{}", headers=alice.headers).status_code == 415


@pytest.mark.parametrize("args", [{}, {"period": "week"}, {"group": "crew_1"},
                                  {"region": "DE", "group": "crew"}, {"at": "2026-W48"},
                                  {"period": "day", "at": "2026-11-27"}, {"period": ""},
                                  {"group": ""}, {"region": "de"}])
def test_the_body_is_what_the_document_allows(app, args):
    schema = jsonschema_rs.validator_for(stream.TICKET_BODY.schema(app.config))
    with app.test_request_context(json=args):
        try:
            views.parse(stream.TICKET_BODY.read(), datetime(2026, 11, 30), app.config)
            served = True
        except ValueError:
            served = False
    assert served == schema.is_valid(args)


def test_a_ticket_opens_only_its_own_view(crew):
    group_id, alice, _, _ = crew
    for query in (f"group={group_id}&period=day", "", "region=DE"):
        reply = open_with(alice.client, ticket_of(alice, group=group_id), query)
        assert reply.status_code == 403, query
        assert reply.json["error"] == "This ticket is for another view: ask for one for this view."
    # One for a public board opens it (a public board needs none, though).
    assert passed(open_with(alice.client, ticket_of(alice, period="week"), "period=week"))


def test_a_token_in_the_streams_url_is_refused_with_the_way_to_a_ticket(crew):
    group_id, alice, _, _ = crew
    for query in (f"group={group_id}&token={alice.token}", f"token={alice.token}"):
        reply = alice.client.get(f"{STREAM}?{query}")
        assert reply.status_code == 400
        assert "POST /api/streams/tickets" in reply.json["error"]
        assert "?ticket=" in reply.json["error"]


@pytest.mark.parametrize("ticket", ["", "x" * 42, "x" * 44, "a.b", "%00" * 43])
def test_a_malformed_ticket_is_400(client, ticket):
    reply = client.get(f"{STREAM}?ticket={ticket}")
    assert reply.status_code == 400 and reply.json["error"].startswith("ticket must be")


def test_a_revocation_between_issue_and_use_refuses_the_ticket(crew):
    group_id, _, bob, _ = crew
    ticket = ticket_of(bob, group=group_id)
    assert bob.client.post("/api/auth/revoke", headers=bob.headers).status_code == 200
    reply = open_with(bob.client, ticket, f"group={group_id}")
    assert (reply.status_code, reply.json["error"]) == (401, "Authentication token has been "
                                                             "revoked.")
    assert ask(bob, group=group_id).status_code == 401


def test_a_member_removed_between_issue_and_use_is_refused(crew):
    group_id, alice, bob, _ = crew
    ticket = ticket_of(bob, group=group_id)
    removed = alice.client.delete(f"/api/groups/{group_id}/members/bob", headers=alice.headers)
    assert removed.status_code == 200
    reply = open_with(bob.client, ticket, f"group={group_id}")
    assert (reply.status_code, reply.json["error"]) == (403, "Only members can see this group.")


def test_a_banned_player_gets_no_ticket_and_cannot_spend_one(crew, player):
    group_id, alice, bob, _ = crew
    ticket = ticket_of(bob, group=group_id)
    root = player("root", role="admin")
    banned = root.client.post("/api/admin/players/bob/ban", json={"reason": "bot"},
                              headers=root.headers)
    assert banned.status_code == 200
    refused = {"success": False, "error": "Player is banned."}
    for reply in (open_with(bob.client, ticket, f"group={group_id}"),
                  ask(bob, group=group_id), ask(bob),
                  bob.client.get(f"{STREAM}?group={group_id}", headers=bob.headers)):
        assert (reply.status_code, reply.json) == (403, refused)
    assert passed(bob.client.get(STREAM))  # public boards stay open, without a ticket


def test_a_ticket_expires(make_app, backend):
    app = make_app(backend, STREAM_TICKET_SECONDS=1)
    client = app.test_client()
    alice = Player("alice", token_for(app, "alice"), client)
    tickets = adapters.of(app).tickets
    if backend == "embedded":
        now = [0.0]
        tickets.clock = lambda: now[0]
        ticket = ticket_of(alice)
        now[0] = 0.99
        assert passed(open_with(client, ticket, ""))
        ticket = ticket_of(alice)
        now[0] = 2.0
        assert open_with(client, ticket, "").status_code == 401
    else:
        ticket = ticket_of(alice)
        store = adapters.of(app).store
        assert 0 < store.client.ttl(store.key(f"stream-ticket:{ticket}")) <= 1
        assert json.loads(store.client.get(store.key(f"stream-ticket:{ticket}")))["view"] == "all"


def test_while_redis_is_away_tickets_are_503_not_500(make_app, own_redis):
    app = make_app("postgres", REDIS_URL=own_redis.url, REDIS_RETRY_SECONDS=0)
    client = app.test_client()
    alice = Player("alice", token_for(app, "alice"), client)
    ticket = ticket_of(alice)
    own_redis.kill()
    for reply in (ask(alice), open_with(client, ticket, "")):
        assert reply.status_code == 503 and reply.headers["Retry-After"] == "3"
        assert reply.json["error"].startswith("Stream tickets are unavailable")
    own_redis.start()
    assert passed(open_with(client, ticket_of(alice), ""))


def test_a_ticket_issued_by_one_instance_opens_a_stream_on_another(serve, redis_url,
                                                                   open_stream):
    start, app = serve
    first = start(redis_url)
    second = start(redis_url, REDIS_PREFIX=first.env["REDIS_PREFIX"])
    headers = {"Authorization": f"Bearer {token_for(app, 'alice')}"}
    status, body, _ = call("POST", first.url + TICKETS, {"period": "day"}, headers)
    assert status == 201, body
    opened = open_stream(f"{second.url}{STREAM}?period=day&ticket={body['ticket']}")
    assert opened.status == 200 and opened.next_snapshot()["version"] == 0
    assert call("GET", f"{first.url}{STREAM}?period=day&ticket={body['ticket']}")[0] == 401
