"""The write path is one function call on PostgreSQL and separate statements on SQLite: the
same plays, refusals included, leave the same scores, windows and audit rows on both."""

from datetime import datetime, timedelta

from sqlalchemy import select, update

from scoreboard.core.errors import ApiError
from scoreboard.data.db import db
from scoreboard.data.models import ActionType, AuditEvent, User, WindowScore
from scoreboard.play import actions, scoring

T0 = datetime(2026, 11, 29, 23, 59, 0)  # a Sunday: the plays cross a day and an ISO week


def run_story(app) -> list:
    """Play one story through the services at set moments; returns what each step answered."""
    clock = {"now": T0}
    app.config["CLOCK"] = lambda: clock["now"]
    answers = []

    def at(seconds):
        clock["now"] = T0 + timedelta(seconds=seconds)

    def start(user, kind):
        return actions.start_action({"sub": user}, kind).id

    def refused(call):
        try:
            answers.append(("ok", call()))
        except ApiError as refusal:
            answers.append((refusal.code, refusal.description))

    def complete(user, ticket):
        refused(lambda: scoring.complete_action(scoring.Attempt(user, ticket)))

    def moderate(user, **flags):
        db.session.execute(update(User).where(User.id == user).values(**flags))
        db.session.commit()

    with app.app_context():
        click = start("alice", "click")
        complete("alice", click)  # accepted
        complete("alice", click)  # replayed: the same score again
        complete("bob", click)  # someone else's ticket
        complete("dan", click)  # someone else's, for a player never seen (no row to lock)
        complete("alice", "no-such-ticket-0000")  # unknown
        quiz = start("alice", "quiz")
        at(1), complete("alice", quiz)  # too soon (5 s minimum)
        at(6), complete("alice", quiz)  # accepted
        bonus, again = start("alice", "daily-bonus"), start("alice", "daily-bonus")
        complete("alice", bonus)  # accepted
        complete("alice", again)  # daily limit
        at(61)  # the next UTC day and ISO week: the daily limit starts afresh
        complete("alice", again)  # accepted, in new windows
        level, level2 = start("alice", "level"), start("alice", "level")
        at(92), complete("alice", level)  # accepted (30 s minimum)
        at(123), complete("alice", level2)  # cooling down (60 s)
        stale = start("bob", "click")
        at(123 + 901), complete("bob", stale)  # expired
        quiz = start("bob", "quiz")
        db.session.execute(update(ActionType).where(ActionType.id == "quiz").values(enabled=False))
        db.session.commit()
        at(123 + 910), complete("bob", quiz)  # disabled
        db.session.execute(update(ActionType).where(ActionType.id == "quiz").values(enabled=True))
        db.session.commit()
        complete("bob", start("bob", "click"))  # accepted
        pending = start("bob", "click")
        moderate("bob", banned=True)
        refused(lambda: start("bob", "click"))  # banned: no ticket
        complete("bob", pending)  # banned: the ticket from before the ban is refused too
        moderate("alice", hidden=True)
        complete("alice", start("alice", "click"))  # accepted: a hidden score still counts
        state = {
            "scores": db.session.execute(select(User.id, User.score).order_by(User.id)).all(),
            "windows": db.session.execute(
                select(WindowScore.period, WindowScore.user_id, WindowScore.score)
                .order_by(WindowScore.period, WindowScore.user_id)).all(),
            "audit": db.session.execute(
                select(AuditEvent.at, AuditEvent.user_id, AuditEvent.action_type,
                       AuditEvent.delta, AuditEvent.score_after, AuditEvent.outcome,
                       AuditEvent.reason).order_by(AuditEvent.id)).all(),
        }
        db.session.rollback()
    return answers, {name: [tuple(row) for row in rows] for name, rows in state.items()}


def test_both_backends_play_the_same_story_alike(make_app):
    embedded, postgres = run_story(make_app("embedded")), run_story(make_app("postgres"))
    assert embedded == postgres
    answers, state = postgres
    assert answers == [
        ("ok", 1), ("ok", 1), (403, "Unauthorized score update attempt."),
        (403, "Unauthorized score update attempt."), (400, "Unknown action ticket."),
        (400, "Action completed too soon."), ("ok", 11), ("ok", 36),
        (400, "Daily limit for this action reached."), ("ok", 61), ("ok", 111),
        (400, "Action is cooling down."), (400, "Action ticket has expired."),
        (400, "Action type is disabled."), ("ok", 1), (403, "Player is banned."),
        (403, "Player is banned."), ("ok", 112)]
    assert state["scores"] == [("alice", 112), ("bob", 1)]
    assert state["windows"] == [
        ("day:2026-11-29", "alice", 36), ("day:2026-11-30", "alice", 76),
        ("day:2026-11-30", "bob", 1), ("week:2026-W48", "alice", 36),
        ("week:2026-W49", "alice", 76), ("week:2026-W49", "bob", 1)]
    outcomes = [row[5] for row in state["audit"]]
    assert outcomes == ["accepted", "replayed", "rejected", "rejected", "rejected", "rejected",
                        "accepted", "accepted", "rejected", "accepted", "accepted", "rejected",
                        "rejected", "rejected", "accepted", "rejected", "accepted"]
