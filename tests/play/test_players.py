"""A player's profile: display name and region, from the token's claims or set by the player."""

import pytest

from scoreboard.core.errors import ApiError
from scoreboard.identity.auth import issue_token
from scoreboard.play import players

from ..harness.players import Player

ME = "/api/users/me"


def test_first_sight_takes_name_and_region_from_the_token(player):
    carol = player("carol", name="Carol", region="DE")
    reply = carol.client.get(ME, headers=carol.headers)
    assert reply.status_code == 200
    assert reply.json == {"userId": "carol", "displayName": "Carol", "region": "DE", "score": 0}


def test_region_claim_that_is_not_a_region_is_ignored(player):
    carol = player("carol", region="XX")
    assert carol.client.get(ME, headers=carol.headers).json["region"] is None


def test_a_newer_region_claim_updates_the_record_and_the_boards(app, client, player):
    player("carol", region="DE").play()
    assert [e["userId"] for e in client.get("/api/scores/top?region=DE").json["topScores"]] \
        == ["carol"]
    with app.app_context():
        moved = Player("carol", issue_token("carol", region="FR"), client)
    assert client.get(ME, headers=moved.headers).json["region"] == "FR"
    assert client.get("/api/scores/top?region=DE").json["topScores"] == []
    assert [e["userId"] for e in client.get("/api/scores/top?region=FR").json["topScores"]] \
        == ["carol"]


def test_starting_an_action_with_a_newer_region_claim_moves_the_player(app, client, player):
    player("carol", name="Carol", region="DE").play()
    with app.app_context():
        moved = Player("carol", issue_token("carol", region="FR"), client)
    assert moved.start().status_code == 201  # the ticket's issue follows the claim
    assert client.get("/api/scores/users/carol").json["region"] == "FR"
    assert client.get("/api/scores/top?region=DE").json["topScores"] == []
    assert [e["userId"] for e in client.get("/api/scores/top?region=FR").json["topScores"]] \
        == ["carol"]


def test_the_first_ticket_makes_the_player_with_the_tokens_name_and_region(player, client):
    assert player("dora", name="  Dora  ", region="DE").start().status_code == 201
    assert client.get("/api/scores/users/dora").json == {
        "userId": "dora", "displayName": "Dora", "region": "DE", "score": 0, "rank": None}


def test_player_sets_name_and_region(player):
    carol = player("carol", region="DE")
    reply = carol.client.put(ME, json={"displayName": "Carol C.", "region": "FR"},
                             headers=carol.headers)
    assert reply.status_code == 200
    assert reply.json == {"userId": "carol", "displayName": "Carol C.", "region": "FR",
                          "score": 0}
    cleared = carol.client.put(ME, json={"region": None}, headers=carol.headers)
    assert cleared.json["region"] is None and cleared.json["displayName"] == "Carol C."


@pytest.mark.parametrize("body", [
    {"region": "XX"}, {"region": "de"}, {"displayName": ""}, {"displayName": "a\nb"},
    {"displayName": "x" * 65}, {"displayName": 5}, {"score": "100"}, {},
])
def test_bad_profile_changes_are_400_and_change_nothing(player, body):
    carol = player("carol", name="Carol", region="DE")
    reply = carol.client.put(ME, json=body, headers=carol.headers)
    assert reply.status_code == 400 and reply.json["success"] is False
    assert carol.client.get(ME, headers=carol.headers).json == {
        "userId": "carol", "displayName": "Carol", "region": "DE", "score": 0}


@pytest.mark.parametrize("changes", [{"region": "XX"}, {"displayName": "a\nb"}])
def test_the_service_refuses_a_bad_change_as_the_body_rule_does(app, player, changes):
    carol = player("carol", region="DE")
    over_http = carol.client.put(ME, json=changes, headers=carol.headers).json["error"]
    with app.app_context(), pytest.raises(ApiError) as refused:
        players.update_profile({"sub": "carol"}, changes)
    assert (refused.value.code, refused.value.description) == (400, over_http)


def test_profile_needs_a_token(client):
    assert client.get(ME).status_code == 401
    assert client.put(ME, json={"region": "DE"}).status_code == 401


def test_configured_regions_limit_the_choice(make_app, backend):
    app = make_app(backend, REGIONS=frozenset({"DE", "FR"}))
    with app.app_context():
        carol = Player("carol", issue_token("carol"), app.test_client())
    assert carol.client.put(ME, json={"region": "FR"}, headers=carol.headers).status_code == 200
    assert carol.client.put(ME, json={"region": "US"}, headers=carol.headers).status_code == 400


def test_renaming_a_player_on_the_board_moves_its_version(player, client):
    carol = player("carol", name="Carol")
    carol.play()
    before = client.get("/api/scores/top")
    reply = carol.client.put(ME, json={"displayName": "Caroline"}, headers=carol.headers)
    assert reply.status_code == 200
    after = client.get("/api/scores/top", headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200
    assert after.json["version"] == before.json["version"] + 1
    assert after.json["topScores"][0]["displayName"] == "Caroline"


def test_renaming_a_player_off_the_board_leaves_it_alone(player, client):
    player("carol").play()
    before = client.get("/api/scores/top").json
    dave = player("dave")
    dave.client.put(ME, json={"displayName": "Dave"}, headers=dave.headers)
    assert client.get("/api/scores/top").json == before


@pytest.mark.parametrize("name", [
    pytest.param("\u202eecila", id="bidi-override"),
    pytest.param("Car\u200bol", id="zero-width-space"),
    pytest.param("Car\u2028ol", id="line-separator"),
    pytest.param("\ufeffCarol", id="byte-order-mark"),
])
def test_a_name_that_could_pass_for_another_or_scramble_the_board_is_400(player, name):
    carol = player("carol", name="Carol", region="DE")
    reply = carol.client.put(ME, json={"displayName": name}, headers=carol.headers)
    assert reply.status_code == 400
    assert reply.json == {"success": False, "error": "displayName must be 1 to 64 characters, "
                                                     "without control or format characters."}
    assert carol.client.get(ME, headers=carol.headers).json["displayName"] == "Carol"


def test_a_lone_surrogate_in_a_name_is_400_and_changes_nothing(player):
    carol = player("carol", name="Carol")
    reply = carol.client.put(ME, data=b'{"displayName": "Car\\ud800ol"}', headers=carol.headers,
                             content_type="application/json")
    assert reply.status_code == 400 and reply.json["success"] is False
    assert carol.client.get(ME, headers=carol.headers).json["displayName"] == "Carol"


def test_a_name_is_stored_in_its_normal_form(player, client):
    carol = player("carol", name="Carol")
    carol.play()
    reply = carol.client.put(ME, json={"displayName": "\uff23\uff41\uff52\uff4f\uff4c \ufb01"},
                             headers=carol.headers)
    assert reply.status_code == 200 and reply.json["displayName"] == "Carol fi"
    assert client.get("/api/scores/top").json["topScores"][0]["displayName"] == "Carol fi"


def test_the_tokens_name_is_stored_in_its_normal_form(player):
    carol = player("carol", name="\uff23\uff41\uff52\uff4f\uff4c")
    assert carol.client.get(ME, headers=carol.headers).json["displayName"] == "Carol"
