"""Moderation without HTTP: hiding, showing, banning and adjusting players, on every board,
rank and notice, and the audit log that explains each of them."""

import threading
from datetime import datetime

import psycopg2
import pytest
from sqlalchemy import select

from scoreboard import adapters
from scoreboard.boards import ports, ranks
from scoreboard.boards.views import View
from scoreboard.core.errors import ApiError
from scoreboard.data.db import db
from scoreboard.data.models import ActionTicket, AuditEvent, User, WindowScore
from scoreboard.identity.auth import issue_token
from scoreboard.play import moderation

from ..harness.databases import lock_waits
from ..harness.players import Player, add_members, play
from ..harness.waiting import wait_for

LAST_WEEK, NOW = datetime(2026, 11, 24, 9), datetime(2026, 11, 30, 12)
DAY, WEEK = "day:2026-11-30", "week:2026-W49"
ROOT = moderation.Actor("root", "req-1", "10.0.0.1")


@pytest.fixture
def league(app, client):
    """ann and ben in DE, cat in FR; ben leads everywhere, and all three are in ann's
    group. The clock stays at NOW."""
    players = {}
    for user_id, region in (("ann", "DE"), ("ben", "DE"), ("cat", "FR")):
        with app.app_context():
            token = issue_token(user_id, name=user_id.title(), region=region)
        players[user_id] = Player(user_id, token, client)
        client.get("/api/users/me", headers=players[user_id].headers)
    play(app, "ben", 4, at=LAST_WEEK)
    for user_id, times in (("ann", 2), ("ben", 3), ("cat", 1)):
        play(app, user_id, times, at=NOW)
    ann = players["ann"]
    group = client.post("/api/groups", json={"name": "Crew"}, headers=ann.headers).json
    add_members(ann, group["groupId"], players["ben"], players["cat"])
    return players, group["groupId"]


def queries(group):
    return ("", "?region=DE", "?period=day", "?period=week", "?region=DE&period=week",
            f"?group={group}", f"?group={group}&period=day")


def boards(client, league) -> dict:
    """Every view ben shows on: query -> (version, [(userId, score)])."""
    players, group = league
    shown = {}
    for query in queries(group):
        body = client.get(f"/api/scores/top{query}", headers=players["ann"].headers).json
        shown[query] = (body["version"], [(e["userId"], e["score"]) for e in body["topScores"]])
    return shown


def rows_without(shown: dict, user_id=None) -> dict:
    """Each board's rows as ``boards`` gave them, less the player's."""
    return {query: [row for row in rows if row[0] != user_id]
            for query, (_, rows) in shown.items()}


def act(app, fn, *args, actor=ROOT):
    with app.app_context():
        return fn(actor, *args)


def audit_rows(app, **where):
    with app.app_context():
        return db.session.scalars(select(AuditEvent).filter_by(**where)
                                  .order_by(AuditEvent.id)).all()


def rank(client, league, user_id, query=""):
    players, _ = league
    return client.get(f"/api/scores/users/{user_id}{query}",
                      headers=players["ann"].headers).json


def test_hide_takes_the_player_off_every_board_and_rank_at_once(app, client, league):
    before = boards(client, league)
    assert all(rows[0][0] == "ben" for _, rows in before.values())
    assert rank(client, league, "cat")["rank"] == 3  # and builds the rank set, with Redis

    assert act(app, moderation.hide, "ben", "cheating") == {"userId": "ben", "hidden": True}

    after = boards(client, league)
    for query, (version, rows) in after.items():
        assert version > before[query][0], query
        assert rows == [row for row in before[query][1] if row[0] != "ben"], query
    assert rank(client, league, "ben") == {"userId": "ben", "displayName": "Ben",
                                           "region": "DE", "score": 0, "rank": None}
    assert rank(client, league, "cat")["rank"] == 2
    assert rank(client, league, "ann", "?region=DE&period=week")["rank"] == 1
    around = client.get("/api/scores/users/ann/around?radius=5").json["around"]
    assert [e["userId"] for e in around] == ["ann", "cat"]
    ben = league[0]["ben"]
    assert client.get("/api/users/me", headers=ben.headers).json["score"] == 7


def test_hiding_announces_every_view_the_player_was_on(app, client, league):
    _, group = league
    boards(client, league)
    heard = []
    broker = adapters.of(app).broker
    announce = broker.announce
    broker.announce = lambda version, views, *rest: (heard.append((version, views, rest)),
                                                     announce(version, views, *rest))
    act(app, moderation.hide, "ben", "cheating")
    [(version, views, _)] = heard
    windows = ("", DAY, WEEK, "day:2026-11-24", "week:2026-W48")  # ben played last week too
    assert sorted(views) == sorted(
        "|".join(part for part in (where, window) if part) or "all"
        for where in ("", "region:DE", f"group:{group}") for window in windows)
    with app.app_context():
        assert ports(app).local.get("all").version == version


def test_a_hidden_players_score_keeps_counting_and_unhide_brings_it_back(app, client, league):
    before = boards(client, league)
    act(app, moderation.hide, "ben", "cheating")
    assert play(app, "ben", 2, at=NOW) == 9
    assert rows_without(boards(client, league)) == rows_without(before, "ben")

    assert act(app, moderation.unhide, "ben", "appeal upheld") == {"userId": "ben",
                                                                   "hidden": False}
    after = boards(client, league)
    for query, (version, rows) in after.items():
        assert version > before[query][0]
        assert rows[0][0] == "ben", query
    assert dict(after[""][1])["ben"] == 9
    assert dict(after["?period=day"][1])["ben"] == 5
    mine = rank(client, league, "ben")
    assert (mine["rank"], mine["score"]) == (1, 9)


def test_an_update_while_hidden_moves_no_board_and_places_no_rank(app, client, league):
    act(app, moderation.hide, "ben", "cheating")
    before = boards(client, league)
    heard = []
    broker = adapters.of(app).broker
    announce = broker.announce
    broker.announce = lambda version, views, placements=(): (
        heard.append((views, list(placements))), announce(version, views, placements))
    play(app, "ben", 1, at=NOW)
    assert heard == []  # not even an empty notice: nothing to send to Redis
    # The same rows (a board's version may move on: a process that hears no notices, as
    # the test client's, takes the database's newest version as the least it serves).
    assert rows_without(boards(client, league)) == rows_without(before)
    assert rank(client, league, "ben")["rank"] is None
    play(app, "ann", 1, at=NOW)  # a shown player's update is heard: the spy listens
    [(views, _)] = heard
    assert "all" in views


def test_ranks_from_redis_sets_leave_out_hidden_players(make_app):
    """With Redis, ranks come from sorted sets: hide, show and adjust reseat the player
    there, so the sets keep answering as the database does."""
    app = make_app("postgres")
    client = app.test_client()
    for n, user_id in enumerate(("ann", "ben", "cat", "dan")):
        with app.app_context():
            client.get("/api/users/me", headers={
                "Authorization": f"Bearer {issue_token(user_id, region='DE')}"})
        play(app, user_id, n + 1, at=NOW)
    views = (View(), View(region="DE"), View(window=DAY), View(window=WEEK, region="DE"))
    with app.app_context():
        for view in views:
            ranks._from_set(view, "ann")  # the first look builds the set

    def agree(expected_ranks):
        with app.app_context():
            for view in views:
                found = {u: ranks._from_set(view, u) for u in ("ann", "ben", "cat", "dan")}
                assert found == {u: ranks._from_database(view, u) for u in found}, view
                assert {u: r for u, (_, r) in found.items()} == expected_ranks, view

    agree({"dan": 1, "cat": 2, "ben": 3, "ann": 4})
    act(app, moderation.hide, "cat", "cheating")
    agree({"dan": 1, "cat": None, "ben": 2, "ann": 3})
    act(app, moderation.adjust, "dan", -3, "a scoring bug")  # a place down: 4 -> 1 point
    agree({"dan": 3, "cat": None, "ben": 1, "ann": 2})  # ann and dan: the same moment
    act(app, moderation.unhide, "cat", "appeal upheld")
    agree({"dan": 4, "cat": 1, "ben": 2, "ann": 3})
    assert app.test_cli_runner().invoke(args=["scoreboard", "verify"]).exit_code == 0


def test_ban_hides_the_player_and_voids_only_their_open_tickets(app, client, league):
    players, _ = league
    before = boards(client, league)
    open_ticket = players["ben"].start().json["actionId"]
    others = players["cat"].start().json["actionId"]
    assert act(app, moderation.ban, "ben", "bot") == {"userId": "ben", "banned": True}
    with app.app_context():
        ben = db.session.get(User, "ben")
        assert (ben.banned, ben.hidden, ben.score) == (True, True, 7)
        assert db.session.get(ActionTicket, open_ticket).expires_at <= NOW
        assert db.session.get(ActionTicket, others).expires_at > NOW
        done = db.session.scalars(select(ActionTicket).where(
            ActionTicket.user_id == "ben", ActionTicket.completed_at.is_not(None))).all()
        assert len(done) == 7 and all(t.expires_at > t.completed_at for t in done)
    assert rows_without(boards(client, league)) == rows_without(before, "ben")


def test_unban_lifts_the_ban_but_not_the_hide(app, client, league):
    before = boards(client, league)
    act(app, moderation.ban, "ben", "bot")
    assert act(app, moderation.unban, "ben", "not a bot") == {"userId": "ben", "banned": False}
    with app.app_context():
        ben = db.session.get(User, "ben")
        assert (ben.banned, ben.hidden) == (False, True)
    assert rows_without(boards(client, league)) == rows_without(before, "ben")
    act(app, moderation.unhide, "ben", "not a bot")
    assert boards(client, league)[""][1][0] == ("ben", 7)


def window_scores(app, user_id):
    with app.app_context():
        return dict(db.session.execute(select(WindowScore.period, WindowScore.score).where(
            WindowScore.user_id == user_id)).all())


def test_adjust_adds_to_the_score_and_the_current_windows_and_moves_the_board(app, client,
                                                                              league):
    before = boards(client, league)
    assert act(app, moderation.adjust, "cat", 50, "lost points restored") == {
        "userId": "cat", "score": 51}
    assert window_scores(app, "cat") == {DAY: 51, WEEK: 51}
    after = boards(client, league)
    for query in ("", "?period=day", "?period=week", f"?group={league[1]}"):
        assert after[query][0] > before[query][0]
        assert after[query][1][0] == ("cat", 51)
    assert "cat" not in dict(after["?region=DE"][1])


def test_taking_points_back_stops_a_window_at_zero(app, client, league):
    # ben: 4 points last week, 3 today. Taking 5 back leaves 2 all-time and 0 today.
    assert act(app, moderation.adjust, "ben", -5, "exploit") == {"userId": "ben", "score": 2}
    assert window_scores(app, "ben") == {"day:2026-11-24": 4, "week:2026-W48": 4, DAY: 0,
                                         WEEK: 0}
    shown = boards(client, league)
    assert "ben" not in dict(shown["?period=day"][1])
    assert shown[""][1] == [("ann", 2), ("ben", 2), ("cat", 1)]  # the same moment: by id
    assert act(app, moderation.adjust, "ann", -1, "exploit") == {"userId": "ann", "score": 1}
    assert window_scores(app, "ann") == {DAY: 1, WEEK: 1}


@pytest.mark.parametrize("delta", [-8, 0, 1_000_001, -1_000_001, True, 1.5, "5"])
def test_an_adjustment_out_of_bounds_is_refused_and_changes_nothing(app, client, league,
                                                                    delta):
    before = boards(client, league)
    with pytest.raises(ApiError) as refused:
        act(app, moderation.adjust, "ben", delta, "exploit")
    assert refused.value.code == 400
    message = refused.value.description
    assert ("below 0" in message) if delta == -8 else ("-1000000 to 1000000" in message)
    assert boards(client, league) == before
    assert window_scores(app, "ben")[DAY] == 3
    assert audit_rows(app, outcome="adjusted") == []


def test_adjust_max_is_a_setting(make_app, backend):
    app = make_app(backend, ADJUST_MAX=10)
    play(app, "ann", 1)
    with pytest.raises(ApiError, match="-10 to 10"):
        act(app, moderation.adjust, "ann", 11, "too much")
    assert act(app, moderation.adjust, "ann", 10, "just enough")["score"] == 11


@pytest.mark.parametrize("fn, args", [(moderation.hide, ()), (moderation.unhide, ()),
                                      (moderation.ban, ()), (moderation.unban, ()),
                                      (moderation.adjust, (5,))])
def test_an_unknown_player_is_404_and_nothing_is_audited(app, league, fn, args):
    with pytest.raises(ApiError) as refused:
        act(app, fn, "nobody", *args, "why not")
    assert (refused.value.code, refused.value.description) == (404, "No such player.")
    assert audit_rows(app, user_id="nobody") == []


@pytest.mark.parametrize("reason", ["", "   ", "x" * 201, "line\nbreak", None, 7])
def test_a_reason_is_required(app, client, league, reason):
    with pytest.raises(ApiError) as refused:
        act(app, moderation.hide, "ben", reason)
    assert refused.value.code == 400 and "reason" in refused.value.description
    assert boards(client, league)[""][1][0][0] == "ben"
    assert audit_rows(app, outcome="hidden") == []


def test_every_act_is_audited_with_its_actor_reason_and_request(app, league):
    act(app, moderation.hide, "ben", "cheating")
    act(app, moderation.unhide, "ben", "appeal")
    act(app, moderation.ban, "cat", "bot", actor=moderation.Actor("cli:ops"))
    act(app, moderation.unban, "cat", "human after all")
    act(app, moderation.adjust, "ann", 3, "goodwill")
    rows = [(r.user_id, r.outcome, r.delta, r.score_after, r.reason, r.actor, r.request_id,
             r.client_ip, r.action_type, r.ticket_id)
            for r in audit_rows(app) if r.actor is not None]
    assert rows == [
        ("ben", "hidden", 0, 7, "cheating", "root", "req-1", "10.0.0.1", None, None),
        ("ben", "unhidden", 0, 7, "appeal", "root", "req-1", "10.0.0.1", None, None),
        ("cat", "banned", 0, 1, "bot", "cli:ops", None, None, None, None),
        ("cat", "unbanned", 0, 1, "human after all", "root", "req-1", "10.0.0.1", None, None),
        ("ann", "adjusted", 3, 5, "goodwill", "root", "req-1", "10.0.0.1", None, None),
    ]
    assert {r.actor for r in audit_rows(app, outcome="accepted")} == {None}


def test_the_audit_log_pages_newest_first_by_keyset(app, league):
    act(app, moderation.adjust, "ann", 3, "goodwill")
    with app.app_context():
        everything = [e.id for e in reversed(audit_rows(app))]
        seen, before = [], None
        while True:
            page = moderation.audit_page(before=before, limit=4)
            assert 1 <= len(page["events"]) <= 4
            seen += [e["id"] for e in page["events"]]
            if page["next"] is None:
                break
            before = page["next"]
            assert before == seen[-1]
        assert seen == everything
        bens = moderation.audit_page(user_id="ben", limit=100)["events"]
        assert [e["id"] for e in bens] == [e.id for e in reversed(audit_rows(app,
                                                                             user_id="ben"))]
        [adjusted] = moderation.audit_page(outcome="adjusted")["events"]
    assert adjusted == {"id": everything[0], "at": "2026-11-30T12:00:00.000Z",
                        "userId": "ann", "actor": "root", "outcome": "adjusted",
                        "actionType": None, "delta": 3, "scoreAfter": 5, "reason": "goodwill",
                        "count": 1, "requestId": "req-1", "clientIp": "10.0.0.1"}


def test_a_renamed_or_regrouped_hidden_player_moves_no_board(app, client, league):
    players, group = league
    boards(client, league)
    act(app, moderation.hide, "ben", "cheating")
    heard = []
    broker = adapters.of(app).broker
    broker.announce = lambda version, views, *rest: heard.append(views)
    renamed = client.put("/api/users/me", json={"displayName": "Benjamin"},
                         headers=players["ben"].headers)
    removed = client.delete(f"/api/groups/{group}/members/ben",
                            headers=players["ann"].headers)
    assert (renamed.status_code, removed.status_code) == (200, 200)
    assert heard == []
    client.put("/api/users/me", json={"displayName": "Catherine"},
               headers=players["cat"].headers)
    [views] = heard  # a shown player's rename is heard: the spy listens
    assert "all" in views


def test_hide_and_unhide_reach_the_boards_of_closed_windows(app, client, league):
    past = client.get("/api/scores/top?period=week&at=2026-W48").json["topScores"]
    assert [(e["userId"], e["score"]) for e in past] == [("ben", 4)]
    act(app, moderation.hide, "ben", "cheating")
    assert client.get("/api/scores/top?period=week&at=2026-W48").json["topScores"] == []
    act(app, moderation.unhide, "ben", "appeal")
    past = client.get("/api/scores/top?period=week&at=2026-W48").json["topScores"]
    assert [(e["userId"], e["score"]) for e in past] == [("ben", 4)]


def test_adjusting_a_hidden_player_counts_but_moves_no_board(app, client, league):
    act(app, moderation.hide, "ben", "cheating")
    before = boards(client, league)
    heard = []
    broker = adapters.of(app).broker
    announce = broker.announce
    broker.announce = lambda version, views, *rest: (heard.append(views),
                                                     announce(version, views, *rest))
    assert act(app, moderation.adjust, "ben", 10, "refund")["score"] == 17
    assert heard == [] and boards(client, league) == before
    act(app, moderation.unhide, "ben", "appeal")
    [views] = heard  # the unhide is heard: the spy listens
    assert "all" in views
    assert boards(client, league)[""][1][0] == ("ben", 17)


KEYED = moderation.Actor("root", "req-2", "10.0.0.1", key="refund-ben-1")


def announcements(app) -> list:
    """The change notices the broker sends from now on, as (version, view keys)."""
    heard = []
    broker = adapters.of(app).broker
    announce = broker.announce
    broker.announce = lambda version, views, *rest: (heard.append((version, sorted(views))),
                                                     announce(version, views, *rest))
    return heard


def views_of(group, windows) -> list:
    return sorted("|".join(part for part in (where, window) if part) or "all"
                  for where in ("", "region:DE", f"group:{group}") for window in windows)


def test_an_act_repeated_under_its_key_is_applied_once_and_announced_again(app, client,
                                                                          league):
    """The same act under the same key (its request run again after the connection
    dropped past its commit, or a client repeating it) answers what the first did and
    adds nothing. It announces every current board ben counts on, as which of them the
    first moved is not known any more, and that announcement may be the one that was
    lost."""
    _, group = league
    boards(client, league)
    heard = announcements(app)
    for _ in range(2):
        assert act(app, moderation.adjust, "ben", -5, "exploit", actor=KEYED) == {
            "userId": "ben", "score": 2}
    assert window_scores(app, "ben") == {"day:2026-11-24": 4, "week:2026-W48": 4, DAY: 0,
                                         WEEK: 0}
    [row] = audit_rows(app, outcome="adjusted")
    assert (row.delta, row.score_after, row.idempotency_key) == (-5, 2, "refund-ben-1")
    (first, moved), (again, counting) = heard
    assert again > first
    assert set(moved) <= set(counting) == set(views_of(group, ("", DAY, WEEK)))
    assert boards(client, league)[""][1] == [("ann", 2), ("ben", 2), ("cat", 1)]


def test_a_hide_repeated_under_its_key_announces_the_closed_windows_too(app, client, league):
    _, group = league
    boards(client, league)
    heard = announcements(app)
    for _ in range(2):
        assert act(app, moderation.hide, "ben", "cheating", actor=KEYED) == {
            "userId": "ben", "hidden": True}
    assert len(audit_rows(app, outcome="hidden")) == 1
    windows = ("", DAY, WEEK, "day:2026-11-24", "week:2026-W48")
    assert [views for _, views in heard] == [views_of(group, windows)] * 2


@pytest.mark.parametrize("fn, args", [(moderation.adjust, ("ben", -4, "exploit")),
                                      (moderation.adjust, ("ben", -5, "other reason")),
                                      (moderation.adjust, ("cat", -5, "exploit")),
                                      (moderation.hide, ("ben", "exploit"))])
def test_a_key_used_for_another_act_is_422_and_changes_nothing(app, client, league, fn, args):
    act(app, moderation.adjust, "ben", -5, "exploit", actor=KEYED)
    before, audited = boards(client, league), len(audit_rows(app))
    with pytest.raises(ApiError) as refused:
        act(app, fn, *args, actor=KEYED)
    assert (refused.value.code, refused.value.description) == (422, moderation.KEY_REUSED)
    assert (boards(client, league), len(audit_rows(app))) == (before, audited)


def test_keys_are_each_admins_own(app, league):
    act(app, moderation.adjust, "ben", 1, "goodwill", actor=KEYED)
    other = moderation.Actor("ops", key=KEYED.key)
    assert act(app, moderation.adjust, "ben", 1, "goodwill", actor=other)["score"] == 9


def test_a_key_taken_at_the_same_moment_for_another_player_is_422(make_app, database_url):
    """Two acts under one key for two players do not wait for each other's row lock, so
    both may find the key unused: the unique index lets one of them in."""
    app = make_app("postgres")
    play(app, "ben")
    other = psycopg2.connect(database_url)  # the first act, not committed yet
    with other.cursor() as cur:
        cur.execute("INSERT INTO audit_events (at, user_id, delta, outcome, reason, actor,"
                    " idempotency_key) VALUES (now(), 'cat', 0, 'hidden', 'x', %s, %s)",
                    (KEYED.name, KEYED.key))
    refused = []

    def second():
        try:
            act(app, moderation.hide, "ben", "exploit", actor=KEYED)
        except ApiError as error:
            refused.append((error.code, error.description))

    thread = threading.Thread(target=second)
    thread.start()
    try:
        wait_for(lambda: lock_waits(database_url) > 0, "the second act to wait for the key")
    finally:
        other.commit()
        other.close()
        thread.join()
    assert refused == [(422, moderation.KEY_REUSED)]
    with app.app_context():
        assert db.session.get(User, "ben").hidden is False
