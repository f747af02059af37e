"""Friend groups through the API: the owner invites and players consent, the owner removes
members and members may leave, only members see a group, and the caps answer 409."""

import pytest

from scoreboard.identity.auth import issue_token

from ..harness.players import Player, add_members


@pytest.fixture
def crew(player):
    """Alice's group with Bob in it; Eve is not a member."""
    alice, bob, eve = player("alice", name="Alice"), player("bob", name="Bob"), player("eve")
    created = alice.client.post("/api/groups", json={"name": "Crew"}, headers=alice.headers)
    assert created.status_code == 201
    group_id = created.json["groupId"]
    add_members(alice, group_id, bob)
    return group_id, alice, bob, eve


def members(reply):
    return [m["userId"] for m in reply.json["members"]]


def invite(owner, group_id, user_id):
    return owner.client.post(f"/api/groups/{group_id}/members", json={"userId": user_id},
                             headers=owner.headers)


def join(who, group_id):
    return who.client.post(f"/api/groups/{group_id}/join", headers=who.headers)


def invitations(who, group_id=None):
    url = f"/api/groups/{group_id}/invitations" if group_id else "/api/users/me/invitations"
    return who.client.get(url, headers=who.headers)


def test_create_gives_the_owner_a_group_with_only_them(player):
    alice = player("alice", name="Alice")
    reply = alice.client.post("/api/groups", json={"name": "Crew"}, headers=alice.headers)
    assert reply.status_code == 201
    assert set(reply.json) == {"groupId", "name", "ownerId", "members"}
    assert reply.json["ownerId"] == "alice" and reply.json["name"] == "Crew"
    assert reply.json["members"] == [{"userId": "alice", "displayName": "Alice"}]
    assert len(reply.json["groupId"]) >= 16


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "x" * 65}, {"name": 3},
                                  {"name": "Crew", "owner": "eve"}])
def test_bad_group_body_is_400(player, body):
    alice = player("alice")
    assert alice.client.post("/api/groups", json=body, headers=alice.headers).status_code == 400


@pytest.mark.parametrize("name", ["\u202ewerC", "Cr\u200bew", "Cr\u2028ew", "Cr\x00ew"])
def test_a_group_name_follows_the_rule_for_names(player, name):
    alice = player("alice")
    reply = alice.client.post("/api/groups", json={"name": name}, headers=alice.headers)
    assert reply.status_code == 400 and reply.json == {
        "success": False,
        "error": "name must be 1 to 64 characters, without control or format characters."}
    lone = alice.client.post("/api/groups", data=b'{"name": "Cr\\udfffew"}',
                             headers=alice.headers, content_type="application/json")
    assert lone.status_code == 400
    assert alice.client.get("/api/users/me/groups", headers=alice.headers).json == {"groups": []}
    created = alice.client.post("/api/groups", json={"name": "\uff23rew"}, headers=alice.headers)
    assert created.status_code == 201 and created.json["name"] == "Crew"


def test_members_see_the_group_others_get_403_unknown_404(crew):
    group_id, alice, bob, eve = crew
    assert members(bob.client.get(f"/api/groups/{group_id}", headers=bob.headers)) == \
        ["alice", "bob"]
    assert eve.client.get(f"/api/groups/{group_id}", headers=eve.headers).status_code == 403
    assert eve.client.get("/api/groups/nope", headers=eve.headers).status_code == 404
    assert eve.client.get(f"/api/groups/{group_id}").status_code == 401


def test_an_invitation_is_not_a_membership_until_the_player_joins(crew):
    group_id, alice, bob, eve = crew
    eve.play()
    invited = invite(alice, group_id, "eve")
    assert invited.status_code == 201
    invitation = invited.json
    assert set(invitation) == {"groupId", "name", "ownerId", "ownerName", "userId",
                               "invitedAt"}
    assert (invitation["groupId"], invitation["name"], invitation["ownerId"],
            invitation["ownerName"], invitation["userId"]) == (
        group_id, "Crew", "alice", "Alice", "eve")
    # Invited, not in: not a member, not on the group's board, not in the group's list.
    assert members(alice.client.get(f"/api/groups/{group_id}", headers=alice.headers)) == \
        ["alice", "bob"]
    board = alice.client.get(f"/api/scores/top?group={group_id}", headers=alice.headers)
    assert [row["userId"] for row in board.json["topScores"]] == []
    assert eve.client.get("/api/users/me/groups", headers=eve.headers).json == {"groups": []}
    assert eve.client.get(f"/api/scores/top?group={group_id}",
                          headers=eve.headers).status_code == 403
    assert invitations(eve).json == {"invitations": [invitation]}
    assert invitations(alice, group_id).json == {"invitations": [invitation]}

    joined = join(eve, group_id)
    assert joined.status_code == 200 and members(joined) == ["alice", "bob", "eve"]
    board = eve.client.get(f"/api/scores/top?group={group_id}", headers=eve.headers)
    assert [row["userId"] for row in board.json["topScores"]] == ["eve"]
    assert eve.client.get("/api/users/me/groups", headers=eve.headers).json == {"groups": [
        {"groupId": group_id, "name": "Crew", "ownerId": "alice"}]}
    assert invitations(eve).json == {"invitations": []}
    assert invitations(alice, group_id).json == {"invitations": []}
    again = join(eve, group_id)  # already in: harmless
    assert again.status_code == 200 and members(again) == ["alice", "bob", "eve"]


def test_inviting_again_is_harmless_and_inviting_a_member_is_409(crew):
    group_id, alice, bob, eve = crew
    first = invite(alice, group_id, "eve")
    again = invite(alice, group_id, "eve")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json == first.json
    assert invitations(eve).json == {"invitations": [first.json]}
    for member in ("bob", "alice"):
        refused = invite(alice, group_id, member)
        assert refused.status_code == 409 and refused.json == {
            "success": False, "error": "Already a member of this group.",
            "code": "already_member"}


def test_a_player_not_yet_seen_can_be_invited(crew, player):
    group_id, alice, bob, eve = crew
    assert invite(alice, group_id, "newcomer").status_code == 201
    newcomer = player("newcomer", name="Newcomer")
    assert newcomer.client.get("/api/users/me/invitations", headers=newcomer.headers) \
        .json["invitations"][0]["groupId"] == group_id
    assert members(join(newcomer, group_id))[-1] == "newcomer"


def test_joining_without_an_invitation_is_403_and_an_unknown_group_404(crew):
    group_id, alice, bob, eve = crew
    refused = join(eve, group_id)
    assert refused.status_code == 403 and refused.json == {
        "success": False, "error": "You have not been invited to this group."}
    assert join(eve, "no-such-group").status_code == 404
    assert eve.client.post(f"/api/groups/{group_id}/join").status_code == 401
    assert eve.client.get("/api/users/me/invitations").status_code == 401
    assert members(alice.client.get(f"/api/groups/{group_id}", headers=alice.headers)) == \
        ["alice", "bob"]


def test_a_declined_or_revoked_invitation_is_gone(crew):
    group_id, alice, bob, eve = crew
    invite(alice, group_id, "eve")
    declined = eve.client.delete(f"/api/users/me/invitations/{group_id}", headers=eve.headers)
    assert declined.status_code == 200 and declined.json == {
        "success": True, "message": "Invitation declined."}
    assert eve.client.delete(f"/api/users/me/invitations/{group_id}",
                             headers=eve.headers).status_code == 404
    assert join(eve, group_id).status_code == 403
    assert invitations(alice, group_id).json == {"invitations": []}

    invite(alice, group_id, "eve")
    url = f"/api/groups/{group_id}/invitations/eve"
    assert bob.client.delete(url, headers=bob.headers).status_code == 403
    assert eve.client.delete(url, headers=eve.headers).status_code == 403
    revoked = alice.client.delete(url, headers=alice.headers)
    assert revoked.status_code == 200 and revoked.json == {
        "success": True, "message": "Invitation revoked."}
    assert alice.client.delete(url, headers=alice.headers).status_code == 404
    assert invitations(eve).json == {"invitations": []}
    assert join(eve, group_id).status_code == 403


def test_only_the_owner_invites_lists_invitations_and_removes_others(crew):
    group_id, alice, bob, eve = crew
    url = f"/api/groups/{group_id}/members"
    refused = invite(bob, group_id, "eve")
    assert refused.status_code == 403 and refused.json["error"] == \
        "Only the group's owner can invite players."
    assert invite(eve, group_id, "eve").status_code == 403
    assert invitations(bob, group_id).status_code == 403
    assert invitations(eve, group_id).status_code == 403
    assert invitations(eve, "no-such-group").status_code == 404
    assert invite(alice, "no-such-group", "eve").status_code == 404
    assert bob.client.delete(f"{url}/alice", headers=bob.headers).status_code == 409
    assert eve.client.delete(f"{url}/bob", headers=eve.headers).status_code == 403
    removed = alice.client.delete(f"{url}/bob", headers=alice.headers)
    assert removed.status_code == 200 and members(removed) == ["alice"]
    assert alice.client.delete(f"{url}/bob", headers=alice.headers).status_code == 404


@pytest.mark.parametrize("body", [{}, {"userId": ""}, {"userId": "a b"}, {"userId": 3},
                                  {"userId": "x" * 65}, {"userId": "eve", "role": "admin"},
                                  ["eve"]])
def test_a_bad_invitation_is_400_and_invites_no_one(crew, body):
    group_id, alice, bob, eve = crew
    reply = alice.client.post(f"/api/groups/{group_id}/members", json=body,
                              headers=alice.headers)
    assert reply.status_code == 400 and reply.json["success"] is False
    assert invitations(alice, group_id).json == {"invitations": []}


@pytest.mark.parametrize("method, path", [
    ("DELETE", "/api/users/me/invitations/a%00b"),
    ("DELETE", "/api/users/me/invitations/a%20b"),
    ("DELETE", "/api/groups/a%00b/invitations/eve"),
    ("DELETE", "/api/groups/abc/invitations/a%00b"),
    ("GET", "/api/groups/a%00b/invitations"), ("POST", "/api/groups/a%00b/join"),
    ("POST", "/api/groups/" + "a" * 33 + "/join"),
])
def test_an_id_no_group_or_player_can_have_is_a_json_404(crew, method, path):
    """Before any view runs, so no query carries it: PostgreSQL refuses a NUL with an error."""
    group_id, alice, bob, eve = crew
    reply = alice.client.open(path, method=method, headers=alice.headers)
    assert reply.status_code == 404 and reply.json["success"] is False


def test_the_owner_cannot_leave_but_deletes_instead(crew):
    group_id, alice, bob, eve = crew
    refused = alice.client.delete(f"/api/groups/{group_id}/members/alice", headers=alice.headers)
    assert refused.status_code == 409 and refused.json == {
        "success": False, "error": "The owner cannot leave the group; delete it instead."}
    assert alice.client.get(f"/api/groups/{group_id}", headers=alice.headers).status_code == 200


def test_a_member_may_leave(crew):
    group_id, alice, bob, eve = crew
    left = bob.client.delete(f"/api/groups/{group_id}/members/bob", headers=bob.headers)
    assert left.status_code == 200
    assert bob.client.get(f"/api/groups/{group_id}", headers=bob.headers).status_code == 403
    assert bob.client.get("/api/users/me/groups", headers=bob.headers).json == {"groups": []}
    assert join(bob, group_id).status_code == 403  # back only by a new invitation


def test_my_groups_lists_every_group_i_am_in(crew, player):
    group_id, alice, bob, eve = crew
    other = bob.client.post("/api/groups", json={"name": "Bob's"}, headers=bob.headers).json
    listed = bob.client.get("/api/users/me/groups", headers=bob.headers).json["groups"]
    assert listed == [{"groupId": other["groupId"], "name": "Bob's", "ownerId": "bob"},
                      {"groupId": group_id, "name": "Crew", "ownerId": "alice"}]


def test_owner_deletes_the_group_and_its_invitations(crew):
    group_id, alice, bob, eve = crew
    invite(alice, group_id, "eve")
    assert bob.client.delete(f"/api/groups/{group_id}", headers=bob.headers).status_code == 403
    assert alice.client.delete(f"/api/groups/{group_id}", headers=alice.headers) \
        .status_code == 200
    assert alice.client.get(f"/api/groups/{group_id}", headers=alice.headers).status_code == 404
    assert bob.client.get("/api/users/me/groups", headers=bob.headers).json == {"groups": []}
    assert invitations(eve).json == {"invitations": []}


def over(reply, code):
    """A 409 naming the cap it hit."""
    assert reply.status_code == 409, reply.json
    assert reply.json["success"] is False and reply.json["code"] == code
    return reply.json["error"]


def test_each_cap_is_a_409_that_names_it(make_app, backend):
    app = make_app(backend, GROUP_MAX_OWNED=2, GROUP_MAX_JOINED=1, GROUP_MAX_MEMBERS=3,
                   GROUP_MAX_INVITATIONS=2)
    client = app.test_client()
    with app.app_context():
        ann, ben, cat, dan, eve = (Player(name, issue_token(name), client)
                                   for name in ("ann", "ben", "cat", "dan", "eve"))
    first, second = (client.post("/api/groups", json={"name": name}, headers=ann.headers)
                     .json["groupId"] for name in ("One", "Two"))
    assert over(client.post("/api/groups", json={"name": "Three"}, headers=ann.headers),
                "groups_owned_limit") == "A player may own at most 2 groups: delete one first."

    assert [invite(ann, first, who).status_code for who in ("ben", "cat")] == [201, 201]
    assert over(invite(ann, first, "dan"), "group_invitations_limit") == (
        "A group may have at most 2 pending invitations: wait for answers, or take some back.")
    assert invite(ann, first, "ben").status_code == 200  # pending already: not a new one
    assert [join(who, first).status_code for who in (ben, cat)] == [200, 200]
    assert over(invite(ann, first, "dan"), "group_members_limit") == \
        "Group is full: a group has at most 3 members."

    # Ben is in one group of another's, the most he may: he cannot join a second, and the
    # invitation waits until he leaves the first. His own groups do not count.
    assert client.post("/api/groups", json={"name": "Ben's"}, headers=ben.headers) \
        .status_code == 201
    invite(ann, second, "ben")
    assert over(join(ben, second), "groups_joined_limit") == \
        "A player may be in at most 1 groups of others: leave one first."
    assert invitations(ben).json["invitations"][0]["groupId"] == second
    ben.client.delete(f"/api/groups/{first}/members/ben", headers=ben.headers)
    assert join(ben, second).status_code == 200

    # A full group keeps the invitation of whoever could not join it.
    invite(ann, second, "dan")
    invite(ann, second, "eve")
    assert join(eve, second).status_code == 200
    assert over(join(dan, second), "group_members_limit")
    assert invitations(dan).json["invitations"][0]["groupId"] == second
