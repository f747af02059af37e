"""Friend groups: the owner manages members, members may leave, only members see a group."""

import pytest

from scoreboard.auth import issue_token

from .harness.players import Player


@pytest.fixture
def crew(player):
    """Alice's group with Bob in it; Eve is not a member."""
    alice, bob, eve = player("alice", name="Alice"), player("bob", name="Bob"), player("eve")
    created = alice.client.post("/api/groups", json={"name": "Crew"}, headers=alice.headers)
    assert created.status_code == 201
    group_id = created.json["groupId"]
    added = alice.client.post(f"/api/groups/{group_id}/members", json={"userId": "bob"},
                              headers=alice.headers)
    assert added.status_code == 200
    return group_id, alice, bob, eve


def members(reply):
    return [m["userId"] for m in reply.json["members"]]


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


def test_only_the_owner_adds_and_removes_others(crew):
    group_id, alice, bob, eve = crew
    url = f"/api/groups/{group_id}/members"
    assert bob.client.post(url, json={"userId": "eve"}, headers=bob.headers).status_code == 403
    assert bob.client.delete(f"{url}/alice", headers=bob.headers).status_code == 409
    assert eve.client.delete(f"{url}/bob", headers=eve.headers).status_code == 403
    removed = alice.client.delete(f"{url}/bob", headers=alice.headers)
    assert removed.status_code == 200 and members(removed) == ["alice"]
    assert alice.client.delete(f"{url}/bob", headers=alice.headers).status_code == 404


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


def test_my_groups_lists_every_group_i_am_in(crew, player):
    group_id, alice, bob, eve = crew
    other = bob.client.post("/api/groups", json={"name": "Bob's"}, headers=bob.headers).json
    listed = bob.client.get("/api/users/me/groups", headers=bob.headers).json["groups"]
    assert listed == [{"groupId": other["groupId"], "name": "Bob's", "ownerId": "bob"},
                      {"groupId": group_id, "name": "Crew", "ownerId": "alice"}]


def test_adding_twice_is_harmless_and_the_cap_holds(make_app, backend):
    app = make_app(backend, GROUP_MAX_MEMBERS=3)
    with app.app_context():
        owner = Player("owner", issue_token("owner"), app.test_client())
    group_id = owner.client.post("/api/groups", json={"name": "Small"},
                                 headers=owner.headers).json["groupId"]
    url = f"/api/groups/{group_id}/members"
    for user in ("a", "b", "b"):
        assert owner.client.post(url, json={"userId": user}, headers=owner.headers) \
            .status_code == 200
    full = owner.client.post(url, json={"userId": "c"}, headers=owner.headers)
    assert full.status_code == 409 and full.json == {"success": False, "error": "Group is full."}
    assert len(owner.client.get(f"/api/groups/{group_id}", headers=owner.headers)
               .json["members"]) == 3


def test_owner_deletes_the_group(crew):
    group_id, alice, bob, eve = crew
    assert bob.client.delete(f"/api/groups/{group_id}", headers=bob.headers).status_code == 403
    assert alice.client.delete(f"/api/groups/{group_id}", headers=alice.headers) \
        .status_code == 200
    assert alice.client.get(f"/api/groups/{group_id}", headers=alice.headers).status_code == 404
    assert bob.client.get("/api/users/me/groups", headers=bob.headers).json == {"groups": []}
