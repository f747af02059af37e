"""Views of the board (region, friend group, day, week and their combinations), checked
against a reference computed here from the audit log; ranks and neighbours at the edges."""

from collections import defaultdict
from datetime import datetime

import pytest
from sqlalchemy import select

from scoreboard.boards import views
from scoreboard.core import periods
from scoreboard.data.db import db
from scoreboard.data.models import AuditEvent, GroupMember, User
from scoreboard.identity.auth import issue_token

from ..harness.players import Player, add_members, play

# The same tests on a Redis Cluster too (conftest.py).
pytestmark = pytest.mark.backends("embedded", "postgres", "cluster")

MON, TUE, NEXT_MON = datetime(2026, 11, 23, 9), datetime(2026, 11, 24, 9), datetime(2026, 11, 30, 9)
NOW = datetime(2026, 11, 30, 12)
CONFIG = {"REGIONS": frozenset()}  # every ISO 3166-1 code, as by default


@pytest.fixture
def league(app, client):
    """Six players in DE and FR, a friend group, points over two weeks; the clock at NOW."""
    people = {"ann": "DE", "ben": "DE", "cat": "FR", "dan": "FR", "eve": "DE", "fay": None}
    players = {}
    for user_id, region in people.items():
        with app.app_context():
            token = issue_token(user_id, name=user_id.title(), region=region)
        players[user_id] = Player(user_id, token, client)
        players[user_id].client.get("/api/users/me", headers=players[user_id].headers)
    for user_id, moment, times in [("ann", MON, 3), ("ben", MON, 2), ("cat", TUE, 4),
                                   ("dan", TUE, 1), ("ann", NEXT_MON, 1), ("eve", NEXT_MON, 2),
                                   ("ben", NEXT_MON, 2), ("fay", NEXT_MON, 5)]:
        play(app, user_id, times, at=moment)
    app.config["CLOCK"] = lambda: NOW
    ann = players["ann"]
    group = ann.client.post("/api/groups", json={"name": "Crew"}, headers=ann.headers).json
    add_members(ann, group["groupId"], players["cat"], players["eve"])
    return players, group["groupId"]


def reference(app, window=None, region=None, group=None):
    """The view's board worked out from the audit log alone."""
    with app.app_context():
        events = db.session.execute(select(AuditEvent).where(
            AuditEvent.outcome == "accepted").order_by(AuditEvent.id)).scalars().all()
        users = {u.id: u for u in db.session.scalars(select(User))}
        members = set(db.session.scalars(select(GroupMember.user_id).where(
            GroupMember.group_id == group))) if group else None
        score, reached = defaultdict(int), {}
        for event in events:
            if window and window not in periods.windows_of(event.at):
                continue
            score[event.user_id] += event.delta
            reached[event.user_id] = event.at
        chosen = [u for u in score if (not region or users[u].region == region)
                  and (members is None or u in members)]
        chosen.sort(key=lambda u: (-score[u], reached[u], u))
        return [{"userId": u, "score": score[u], "rank": i, "displayName": users[u].display_name}
                for i, u in enumerate(chosen, start=1)]


# Every public view of the league, with the window and region it is worked out for.
PUBLIC_VIEWS = [
    ("", None, None),
    ("?region=DE", None, "DE"),
    ("?region=FR", None, "FR"),
    ("?period=week", "week:2026-W49", None),
    ("?period=week&at=2026-W48", "week:2026-W48", None),
    ("?period=day", "day:2026-11-30", None),
    ("?period=day&at=2026-11-24", "day:2026-11-24", None),
    ("?region=DE&period=week", "week:2026-W49", "DE"),
    ("?region=FR&period=week&at=2026-W48", "week:2026-W48", "FR"),
]
GROUP_VIEWS = [("", None), ("&period=week", "week:2026-W49"),
               ("&period=day&at=2026-11-24", "day:2026-11-24")]


def unlike_the_reference(app, read, views) -> dict:
    """The views whose reply is not their board worked out from the audit log, each with
    what came and what was expected. The league is played once for them all: it costs a
    second a backend."""
    wrong = {}
    for query, *scope in views:
        reply = read(query)
        expected = reference(app, *scope)
        assert expected, f"the fixture should give the view {query!r} some players"
        if reply.status_code != 200 or reply.json["topScores"] != expected:
            wrong[query] = {"status": reply.status_code, "got": reply.json,
                            "expected": expected}
    return wrong


def test_public_views_match_the_audit_log(app, client, league):
    assert unlike_the_reference(
        app, lambda query: client.get(f"/api/scores/top{query}"), PUBLIC_VIEWS) == {}


def test_group_views_match_the_audit_log_for_members(app, league):
    players, group_id = league
    cat = players["cat"]
    assert unlike_the_reference(
        app, lambda query: cat.client.get(f"/api/scores/top?group={group_id}{query}",
                                          headers=cat.headers),
        [(query, window, None, group_id) for query, window in GROUP_VIEWS]) == {}


def test_group_view_is_private(client, league):
    players, group_id = league
    dan = players["dan"]
    assert client.get(f"/api/scores/top?group={group_id}").status_code == 401
    assert dan.client.get(f"/api/scores/top?group={group_id}",
                          headers=dan.headers).status_code == 403
    assert dan.client.get("/api/scores/top?group=nope", headers=dan.headers).status_code == 404


@pytest.mark.parametrize("query", ["?region=DE&group=x", "?at=2026-W48", "?period=month",
                                   "?period=week&at=2026-11-27", "?region=ZZ", "?region=de"])
def test_views_we_do_not_serve_are_400(client, query):
    reply = client.get(f"/api/scores/top{query}")
    assert reply.status_code == 400 and reply.json["success"] is False


def test_each_view_has_its_own_etag(client, league):
    tags = {client.get(f"/api/scores/top{q}").headers["ETag"]
            for q in ("", "?region=DE", "?period=week", "?region=DE&period=week")}
    assert len(tags) == 4


def test_a_score_moves_every_view_it_shows_in(app, client, league):
    before = {q: client.get(f"/api/scores/top{q}").json for q in ("?region=DE", "?period=day")}
    play(app, "ben", 10, at=NOW)
    for query, old in before.items():
        new = client.get(f"/api/scores/top{query}").json
        assert new["version"] > old["version"]
        assert new["topScores"][0]["userId"] == "ben"


def test_rank_at_the_edges(client, league):
    # 4 points each: cat reached them on Tuesday; ann and ben at the same moment later,
    # so their user ids decide.
    ann = client.get("/api/scores/users/ann").json
    assert ann == {"userId": "ann", "displayName": "Ann", "region": "DE", "score": 4,
                   "rank": 3}
    assert client.get("/api/scores/users/cat").json["rank"] == 2
    assert client.get("/api/scores/users/fay").json["rank"] == 1
    assert client.get("/api/scores/users/dan").json["rank"] == 6  # the last
    assert client.get("/api/scores/users/ben?region=DE").json["rank"] == 2  # after ann
    nobody = client.get("/api/scores/users/zed")
    assert nobody.status_code == 404 and nobody.json["success"] is False
    absent = client.get("/api/scores/users/cat?period=day").json
    assert absent["rank"] is None and absent["score"] == 0


def test_around_me_is_a_window_of_the_same_order(client, league):
    whole = client.get("/api/scores/top").json["topScores"]
    around = client.get("/api/scores/users/cat/around?radius=1").json
    mine = next(e for e in whole if e["userId"] == "cat")
    assert around["rank"] == mine["rank"]
    assert around["around"] == whole[mine["rank"] - 2:mine["rank"] + 1]
    top = client.get("/api/scores/users/fay/around?radius=2").json["around"]
    assert top == whole[:3]  # nobody above the first
    assert client.get("/api/scores/users/cat/around?radius=0").status_code == 400


@pytest.mark.parametrize("args, closes_at", [
    ({}, None),
    ({"period": "day"}, datetime(2026, 12, 1)),
    ({"period": "week"}, datetime(2026, 12, 7)),
    ({"period": "day", "at": "2026-11-30"}, None),  # a day asked by name does not follow the clock
])
def test_a_view_knows_when_it_closes(args, closes_at):
    view = views.parse(args, NOW, CONFIG)
    assert view.closes_at == closes_at
    assert view.seconds_left(NOW) == (
        float("inf") if closes_at is None else (closes_at - NOW).total_seconds())


def test_a_view_closes_by_the_earlier_moment_and_stays_the_same_view():
    day = views.parse({"period": "day"}, NOW, CONFIG)
    earlier, later = datetime(2026, 11, 30, 13), datetime(2026, 12, 2)
    assert day.closing_by(earlier).closes_at == earlier
    assert day.closing_by(later).closes_at == datetime(2026, 12, 1)
    assert day.closing_by(earlier) == day and day.closing_by(earlier).key == day.key
