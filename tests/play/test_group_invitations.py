"""Group membership by consent, and its caps, in the services (no HTTP): what each rule
allows and refuses, that the caps hold against concurrent requests, and that a player in
as many groups as any setting of the caps allows is still announced in one change notice."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import insert

import config
from scoreboard import adapters
from scoreboard.adapters.slots import shard_tags
from scoreboard.core import clock, periods
from scoreboard.core.errors import ApiError
from scoreboard.data.db import db
from scoreboard.data.models import Group, GroupMember
from scoreboard.play import groups

from ..harness.players import play
from ..harness.waiting import wait_for

# The same tests on a Redis Cluster too (conftest.py).
pytestmark = pytest.mark.backends("embedded", "postgres", "cluster")


def run(app, fn, *args):
    """``fn(*args)`` in an app context of its own, as a request has it."""
    with app.app_context():
        return fn(*args)


def refused(app, fn, *args) -> ApiError:
    with pytest.raises(ApiError) as error:
        run(app, fn, *args)
    return error.value


def me(user_id: str) -> dict:
    return {"sub": user_id}


def member_ids(app, group_id):
    return [m["userId"] for m in run(app, groups.get_group, me("ann"), group_id)["members"]]


def test_only_the_invited_player_joins_and_only_once(app):
    crew = run(app, groups.create_group, me("ann"), "Crew")["groupId"]
    assert refused(app, groups.join, me("ben"), crew).code == 403
    invitation, created = run(app, groups.invite, me("ann"), crew, "ben")
    assert created and invitation["userId"] == "ben" and invitation["groupId"] == crew
    assert run(app, groups.invite, me("ann"), crew, "ben") == (invitation, False)
    assert refused(app, groups.join, me("cat"), crew).code == 403  # ben's, not cat's
    assert member_ids(app, crew) == ["ann"]
    assert run(app, groups.my_invitations, me("ben")) == [invitation]

    assert [m["userId"] for m in run(app, groups.join, me("ben"), crew)["members"]] == \
        ["ann", "ben"]
    assert run(app, groups.my_invitations, me("ben")) == []
    assert run(app, groups.join, me("ben"), crew)["members"][-1]["userId"] == "ben"
    assert refused(app, groups.invite, me("ann"), crew, "ben").error_code == "already_member"


def test_a_players_invitations_come_newest_first(app):
    made = [run(app, groups.create_group, me(owner), "G")["groupId"] for owner in "xyz"]
    start = clock.system_now()
    for minutes, (owner, group_id) in enumerate(zip("xyz", made)):
        app.config["CLOCK"] = lambda at=start + timedelta(minutes=minutes): at
        run(app, groups.invite, me(owner), group_id, "ben")
    assert [(i["groupId"], i["ownerId"]) for i in run(app, groups.my_invitations, me("ben"))] \
        == list(reversed(list(zip(made, "xyz"))))


def test_an_invitation_ends_when_declined_revoked_or_its_group_deleted(app):
    crew = run(app, groups.create_group, me("ann"), "Crew")["groupId"]
    run(app, groups.invite, me("ann"), crew, "ben")
    run(app, groups.decline, me("ben"), crew)
    assert refused(app, groups.decline, me("ben"), crew).code == 404
    assert refused(app, groups.join, me("ben"), crew).code == 403

    run(app, groups.invite, me("ann"), crew, "ben")
    assert refused(app, groups.revoke_invitation, me("ben"), crew, "ben").code == 403
    run(app, groups.revoke_invitation, me("ann"), crew, "ben")
    assert refused(app, groups.revoke_invitation, me("ann"), crew, "ben").code == 404
    assert refused(app, groups.join, me("ben"), crew).code == 403

    run(app, groups.invite, me("ann"), crew, "ben")
    run(app, groups.delete_group, me("ann"), crew)
    assert run(app, groups.my_invitations, me("ben")) == []
    assert refused(app, groups.join, me("ben"), crew).code == 404


def test_the_caps_count_what_they_name_and_free_up_again(make_app, backend):
    app = make_app(backend, GROUP_MAX_OWNED=2, GROUP_MAX_JOINED=1, GROUP_MAX_MEMBERS=3,
                   GROUP_MAX_INVITATIONS=1)
    one, two = (run(app, groups.create_group, me("ann"), name)["groupId"]
                for name in ("One", "Two"))
    # Owned: ann's own groups; deleting one frees its place.
    assert refused(app, groups.create_group, me("ann"), "Three").error_code == \
        "groups_owned_limit"
    run(app, groups.delete_group, me("ann"), two)
    two = run(app, groups.create_group, me("ann"), "Two again")["groupId"]

    # Pending: a declined or revoked invitation frees its place.
    run(app, groups.invite, me("ann"), one, "ben")
    assert refused(app, groups.invite, me("ann"), one, "cat").error_code == \
        "group_invitations_limit"
    run(app, groups.decline, me("ben"), one)
    run(app, groups.invite, me("ann"), one, "cat")
    run(app, groups.revoke_invitation, me("ann"), one, "cat")
    run(app, groups.invite, me("ann"), one, "ben")

    # Joined: others' groups only; ben's own do not count, leaving frees the place.
    run(app, groups.create_group, me("ben"), "Ben's")
    run(app, groups.join, me("ben"), one)
    run(app, groups.invite, me("ann"), two, "ben")
    assert refused(app, groups.join, me("ben"), two).error_code == "groups_joined_limit"
    run(app, groups.remove_member, me("ben"), one, "ben")
    run(app, groups.join, me("ben"), two)

    # Members: the owner is one of them.
    run(app, groups.invite, me("ann"), two, "cat")
    run(app, groups.join, me("cat"), two)
    assert member_ids(app, two) == ["ann", "ben", "cat"]
    assert refused(app, groups.invite, me("ann"), two, "dan").error_code == \
        "group_members_limit"


def concurrently(app, calls) -> list:
    """Run each of ``calls`` (function, args) at once in a thread of its own; returns what
    each returned, or the ApiError it raised."""
    start = threading.Barrier(len(calls))
    outcomes = [None] * len(calls)

    def one(i, fn, args):
        start.wait()
        try:
            outcomes[i] = run(app, fn, *args)
        except ApiError as error:
            outcomes[i] = error

    threads = [threading.Thread(target=one, args=(i, fn, args))
               for i, (fn, args) in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def codes(outcomes) -> list:
    return sorted(o.error_code if isinstance(o, ApiError) else "ok" for o in outcomes)


def test_concurrent_joins_cannot_pass_a_cap_together(make_app):
    app = make_app("postgres", GROUP_MAX_JOINED=2, GROUP_MAX_MEMBERS=3)
    # One player accepting five invitations at once: two joins at most.
    owned = [run(app, groups.create_group, me(f"owner{i}"), "G")["groupId"] for i in range(5)]
    for i, group_id in enumerate(owned):
        run(app, groups.invite, me(f"owner{i}"), group_id, "ben")
    outcomes = concurrently(app, [(groups.join, (me("ben"), g)) for g in owned])
    assert codes(outcomes) == ["groups_joined_limit"] * 3 + ["ok"] * 2
    # Five players accepting one group's invitations at once: two seats beside the owner.
    crew = run(app, groups.create_group, me("ann"), "Crew")["groupId"]
    players = [f"p{i}" for i in range(5)]
    for who in players:
        run(app, groups.invite, me("ann"), crew, who)
    outcomes = concurrently(app, [(groups.join, (me(who), crew)) for who in players])
    assert codes(outcomes) == ["group_members_limit"] * 3 + ["ok"] * 2
    assert len(member_ids(app, crew)) == 3


def test_a_player_in_the_most_groups_the_caps_allow_is_announced_in_one_notice(make_app):
    """Each of a player's groups adds three views to each change notice of theirs, which
    the broker's Lua script unpacks (fewer than 8,000 values in Redis's Lua). At the most
    any setting of the caps allows, an update's notice still goes out whole."""
    moment = clock.system_now()  # one moment throughout: the views name its day and week
    app = make_app("postgres", CLOCK=lambda: moment)
    most = config.MOST_GROUPS_PER_PLAYER
    with app.app_context():
        now = clock.now()
        ids = [f"g{i:04d}" for i in range(most)]
        db.session.execute(insert(Group), [
            {"id": g, "name": g, "owner_id": "ann" if i < 10 else f"o{i}", "created_at": now}
            for i, g in enumerate(ids)])
        db.session.execute(insert(GroupMember), [
            {"group_id": g, "user_id": "ann", "joined_at": now} for g in ids])
        db.session.commit()
        store = adapters.of(app).store
        notices = store.client.pubsub(ignore_subscribe_messages=True)
        notices.subscribe(*(store.key("board" + tag) for tag in shard_tags()))
    try:
        play(app, "ann")
        message = wait_for(lambda: notices.get_message(timeout=0.1), "the update's notice")
    finally:
        notices.close()
    version, *views = message["data"].decode().split()
    windows = periods.windows_of(moment)
    each = ("", *(f"|{window}" for window in windows))  # all time, today, this week
    assert len(views) == 3 * (most + 1)
    assert set(views) == {"all", *windows} | {f"group:{g}{w}" for g in ids for w in each}
