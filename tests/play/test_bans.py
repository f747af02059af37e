"""What a ban reaches, without HTTP: the rule each write of a banned player meets, and no
ticket that outlives a ban, however a start or a completion overlaps it. The overlaps run
for real on PostgreSQL, in threads on connections of their own, each interleaving forced
by a row lock the test holds and lets go once the sessions wait where it wants them."""

import threading

from sqlalchemy import select

from scoreboard.core.errors import ApiError
from scoreboard.data.db import db
from scoreboard.data.models import ActionTicket, User
from scoreboard.play import actions, moderation, scoring

from ..harness.databases import holding, lock_waits
from ..harness.players import play
from ..harness.waiting import InBackground, wait_for

ROOT = moderation.Actor("root")
BANNED = (403, "Player is banned.")
EXPIRED = (400, "Action ticket has expired.")
ROUNDS = 5  # bans and unbans while starts race them


def call(app, fn, *args):
    """``fn(*args)`` in an app context of its own (a session, so a connection, of its own):
    what it returned, or the (status, message) of the ApiError it raised."""
    with app.app_context():
        try:
            return fn(*args)
        except ApiError as error:
            return error.code, error.description


def start(app, user_id="ben", kind="click"):
    return call(app, actions.start_action, {"sub": user_id}, kind)


def complete(app, ticket_id, user_id="ben"):
    return call(app, scoring.complete_action, scoring.Attempt(user_id, ticket_id))


def ban(app, user_id="ben"):
    return call(app, moderation.ban, ROOT, user_id, "bot")


def unban(app, user_id="ben"):
    return call(app, moderation.unban, ROOT, user_id, "human after all")


def open_tickets(app, user_id="ben") -> list[str]:
    with app.app_context():
        return db.session.scalars(select(ActionTicket.id).where(
            ActionTicket.user_id == user_id, ActionTicket.completed_at.is_(None))).all()


def score(app, user_id="ben") -> int:
    with app.app_context():
        return db.session.get(User, user_id).score


def assert_none_spendable(app, user_id="ben") -> None:
    """Every ticket of the player not completed yet is refused now (the player being
    unbanned), and the score stays."""
    before = score(app, user_id)
    tickets = open_tickets(app, user_id)
    assert tickets, "the player holds no ticket: nothing was tested"
    assert [complete(app, ticket, user_id) for ticket in tickets] == [EXPIRED] * len(tickets)
    assert score(app, user_id) == before


def test_refuse_banned_refuses_a_banned_player_only(app):
    play(app, "ben")
    for user_id in ("ben", "nobody-seen-yet"):
        assert call(app, moderation.refuse_banned, user_id) is None
    ban(app)
    assert call(app, moderation.refuse_banned, "ben") == BANNED
    unban(app)
    assert call(app, moderation.refuse_banned, "ben") is None


def test_no_ticket_from_before_a_ban_is_spendable_after_the_unban(app):
    play(app, "ben")
    click, quiz = start(app).id, start(app, kind="quiz").id  # quiz: not before 5 s from now
    assert ban(app) == {"userId": "ben", "banned": True}
    assert start(app) == BANNED
    assert complete(app, click) == BANNED
    unban(app)
    assert [complete(app, click), complete(app, quiz)] == [EXPIRED] * 2
    assert complete(app, start(app).id) == 2  # new tickets are good again


def test_a_start_under_way_as_a_ban_commits_is_refused(make_app, database_url):
    """The start takes its snapshot while the ban, holding the player's row, is not
    committed yet: it must still read the ban (a snapshot said "not banned", and the ticket
    it issued then outlived the ban)."""
    app = make_app("postgres")
    play(app, "ben")
    stalling = start(app).id  # the ban's void waits on this ticket's lock, the player held
    with holding(database_url, "SELECT 1 FROM action_tickets WHERE id = %s FOR UPDATE",
                 stalling):
        banning = InBackground(lambda: ban(app))
        wait_for(lambda: lock_waits(database_url) == 1, "the ban to hold the player and wait")
        starting = InBackground(lambda: start(app))
        wait_for(lambda: lock_waits(database_url) == 2, "the start to wait for the ban")
    assert banning.result() == {"userId": "ben", "banned": True}
    assert starting.result() == BANNED
    unban(app)
    assert open_tickets(app) == [stalling]
    assert_none_spendable(app)


def test_a_start_holding_the_player_as_a_ban_begins_has_its_ticket_voided(make_app,
                                                                        database_url):
    """The other order: the start has read the player (not banned) and is stalled before
    its commit; the ban waits for it, then voids the ticket it issued."""
    app = make_app("postgres")
    play(app, "ben")
    # The ticket's foreign key to its action type waits on this lock, after the player's.
    with holding(database_url, "SELECT 1 FROM action_types WHERE id = 'click' FOR UPDATE"):
        starting = InBackground(lambda: start(app))
        wait_for(lambda: lock_waits(database_url) == 1, "the start to hold the player")
        banning = InBackground(lambda: ban(app))
        wait_for(lambda: lock_waits(database_url) == 2, "the ban to wait for the start")
    ticket = starting.result()
    assert isinstance(ticket, actions.Ticket), ticket
    assert banning.result() == {"userId": "ben", "banned": True}
    unban(app)
    assert open_tickets(app) == [ticket.id]
    assert_none_spendable(app)


def test_a_completion_overlapping_a_ban_waits_for_it_and_is_refused(make_app, database_url):
    """The ban holds the player and waits on another ticket; the completion then comes.
    It must wait for the ban on the player's row before it locks its ticket: the other way
    round, each waited on the other and PostgreSQL failed one of them (a deadlock)."""
    app = make_app("postgres")
    play(app, "ben")
    stalling, ticket = start(app).id, start(app).id
    with holding(database_url, "SELECT 1 FROM action_tickets WHERE id = %s FOR UPDATE",
                 stalling):
        banning = InBackground(lambda: ban(app))
        wait_for(lambda: lock_waits(database_url) == 1, "the ban to hold the player and wait")
        completing = InBackground(lambda: complete(app, ticket))
        wait_for(lambda: lock_waits(database_url) == 2, "the completion to wait for the ban")
    assert banning.result() == {"userId": "ben", "banned": True}
    assert completing.result() == BANNED
    unban(app)
    assert sorted(open_tickets(app)) == sorted([stalling, ticket])
    assert_none_spendable(app)


def test_starts_racing_bans_leave_no_ticket_an_unban_revives(make_app):
    """Four threads start actions as fast as they can while the player is banned and
    unbanned ROUNDS times; after the last ban they stop, and the unban that follows must
    find every ticket they were given void. (Read from the statement's snapshot, the ban
    let a ticket through in every run of this test.)"""
    app = make_app("postgres")
    play(app, "ben")
    stop = threading.Event()
    answers = []

    def keep_starting():
        while not stop.is_set():
            answers.append(start(app))

    starters = [InBackground(keep_starting) for _ in range(4)]
    try:
        for round_ in range(ROUNDS + 1):
            issued = len(answers) + 20
            wait_for(lambda: len(answers) >= issued, "more starts")
            assert ban(app) == {"userId": "ben", "banned": True}
            if round_ < ROUNDS:
                refused = answers.count(BANNED) + 4
                wait_for(lambda: answers.count(BANNED) >= refused, "starts refused")
                unban(app)
    finally:
        stop.set()
        for starter in starters:
            starter.result()
    unban(app)
    tickets = [a for a in answers if isinstance(a, actions.Ticket)]
    assert len(tickets) >= 20 * ROUNDS and answers.count(BANNED) >= 4 * ROUNDS
    assert len(tickets) + answers.count(BANNED) == len(answers), set(map(type, answers))
    assert sorted(open_tickets(app)) == sorted(t.id for t in tickets)
    assert_none_spendable(app)
