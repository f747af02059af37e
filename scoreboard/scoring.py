"""Completing an action: the one place a score rises, in one transaction with its audit row.

On PostgreSQL the transaction is one call of the ``complete_action`` procedure (migrations
0007 and 0008), so an update costs one database round trip. The embedded SQLite path makes
the same checks in the same order, with the same outcomes, as statements of its own;
tests/test_scoring_backends.py plays one sequence on both and compares every score, window
and audit row. Every accepted change takes the next board version once it has committed;
the views it may have moved are decided afterwards, from the cut-offs of the boards this
worker holds.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select, text, update

from . import clock, leaderboard, periods, ranks
from .errors import ApiError, BadRequest, Forbidden
from .extensions import AUTOCOMMIT, db, on_postgres
from .models import ActionTicket, ActionType, AuditEvent, GroupMember, User, WindowScore
from .players import dialect_insert

log = logging.getLogger(__name__)

# What each refusal of the write path answers; the codes are the function's too.
REFUSALS = {
    "unknown": (400, "Unknown action ticket."),
    "not_yours": (403, None),  # the generic 403 message: nothing to learn about the ticket
    "expired": (400, "Action ticket has expired."),
    "too_soon": (400, "Action completed too soon."),
    "disabled": (400, "Action type is disabled."),
    "cooling_down": (400, "Action is cooling down."),
    "daily_limit": (400, "Daily limit for this action reached."),
}


@dataclass(frozen=True)
class Attempt:
    """Who asks to complete which ticket, and where the request came from (for the audit)."""

    user_id: str  # the token's subject
    ticket_id: str
    request_id: str | None = None
    client_ip: str | None = None
    named_user: str | None = None  # the userId the request names: must be the subject


@dataclass(frozen=True)
class Outcome:
    """What one completion did: accepted, replayed, or rejected with a refusal code."""

    outcome: str
    refusal: str | None = None
    action_type: str | None = None
    score: int | None = None
    region: str | None = None
    windows: dict = field(default_factory=dict)  # window key -> the player's score in it
    version: int | None = None
    groups: tuple = ()


def refusal_error(code: str) -> ApiError:
    status, message = REFUSALS[code]
    return Forbidden() if status == 403 else BadRequest(message)


def complete_action(attempt: Attempt) -> int:
    """Consume the ticket and add its points; returns the user's score after it.

    A repeat of a ticket this user already completed returns the score it produced and adds
    nothing. A rejection is audited in its own transaction and raised as an ApiError.
    """
    if attempt.named_user not in (None, attempt.user_id):
        record_rejection(attempt, Forbidden(f"Token is not for user {attempt.named_user}."))
        raise Forbidden()
    now = clock.now()
    if on_postgres():
        done = _complete_in_postgres(attempt, now)
    else:
        done = _complete_in_session(attempt, now)
    if done.outcome == "rejected":
        rejection = refusal_error(done.refusal)
        record_rejection(attempt, rejection, done.action_type)
        raise rejection
    if done.outcome == "accepted":
        moved = leaderboard.views_moved(done.region, done.groups, done.score, done.windows, now)
        leaderboard.announce_change(done.version, moved, ranks.placements(
            attempt.user_id, done.region, done.score, now, done.windows))
        # Debug only: the audit log already holds every change, and a line per update at
        # game rates measured at several per cent of a worker's time.
        log.debug("score of %s is %s after ticket %s", attempt.user_id, done.score,
                  attempt.ticket_id)
    return done.score


def record_rejection(attempt: Attempt, rejection: ApiError, action_type=None) -> None:
    """Audit a refused attempt by an authenticated user, whatever else was rolled back."""
    db.session.rollback()
    _audit(attempt, clock.now(), "rejected", action_type=action_type,
           reason=rejection.description)
    db.session.commit()
    log.info("refused %s for %s: %s", attempt.ticket_id, attempt.user_id, rejection.description)


def _complete_in_postgres(attempt: Attempt, now: datetime) -> Outcome:
    """One call of the complete_action procedure: the write commits inside it, and the
    board version is taken after."""
    day, week = periods.windows_of(now)
    with db.engines[AUTOCOMMIT].connect() as connection:
        row = connection.execute(
            text("CALL complete_action(:ticket, :user, :now, :day, :week, :request_id, "
                 ":client_ip, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)"),
            {"ticket": attempt.ticket_id, "user": attempt.user_id, "now": now, "day": day,
             "week": week, "request_id": attempt.request_id, "client_ip": attempt.client_ip},
        ).one()
    outcome, refusal, action_type, score, region, day_score, week_score, version, groups = row
    windows = {day: day_score, week: week_score} if outcome == "accepted" else {}
    return Outcome(outcome, refusal, action_type, score, region, windows, version,
                   tuple(groups or ()))


def _complete_in_session(attempt: Attempt, now: datetime) -> Outcome:
    """The same steps as the function, as separate statements (SQLite), then commit."""
    ticket = db.session.execute(
        select(ActionTicket).where(ActionTicket.id == attempt.ticket_id).with_for_update()
    ).scalar_one_or_none()
    if ticket is None:
        return Outcome("rejected", "unknown")
    if ticket.user_id != attempt.user_id:
        return Outcome("rejected", "not_yours", ticket.action_type)
    if ticket.completed_at is not None:
        _audit(attempt, now, "replayed", action_type=ticket.action_type,
               score_after=ticket.score_after)
        db.session.commit()
        return Outcome("replayed", None, ticket.action_type, ticket.score_after)
    refusal = _refusal(ticket, now)
    if refusal:
        return Outcome("rejected", refusal, ticket.action_type)
    score, region = db.session.execute(
        update(User)
        .where(User.id == ticket.user_id)
        .values(score=User.score + ticket.points, score_reached_at=now)
        .returning(User.score, User.region)
    ).one()
    windows = _add_to_windows(ticket, region, now)
    ticket.completed_at = now
    ticket.score_after = score
    _audit(attempt, now, "accepted", action_type=ticket.action_type, delta=ticket.points,
           score_after=score)
    groups = tuple(db.session.scalars(
        select(GroupMember.group_id).where(GroupMember.user_id == ticket.user_id)))
    db.session.commit()
    return Outcome("accepted", None, ticket.action_type, score, region, windows,
                   leaderboard.next_version(), groups)


def _refusal(ticket: ActionTicket, now: datetime) -> str | None:
    if now >= ticket.expires_at:
        return "expired"
    if now < ticket.not_before:
        return "too_soon"
    # The player row lock serialises this player's completions, so two tickets of one type
    # cannot both pass the cooldown or daily-limit checks below.
    db.session.execute(select(User.id).where(User.id == ticket.user_id).with_for_update())
    kind = db.session.get(ActionType, ticket.action_type)
    if not kind.enabled:
        return "disabled"
    done = select(func.count(), func.max(ActionTicket.completed_at)).where(
        ActionTicket.user_id == ticket.user_id,
        ActionTicket.action_type == kind.id,
        ActionTicket.completed_at.is_not(None),
    )
    if kind.cooldown_seconds:
        since = now - timedelta(seconds=kind.cooldown_seconds)
        _, last = db.session.execute(done.where(ActionTicket.completed_at > since)).one()
        if last is not None:
            return "cooling_down"
    if kind.daily_limit is not None:
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        count, _ = db.session.execute(done.where(ActionTicket.completed_at >= midnight)).one()
        if count >= kind.daily_limit:
            return "daily_limit"
    return None


def _add_to_windows(ticket: ActionTicket, region, now: datetime) -> dict:
    """The points count in the day and the week they were gained in, as well as all time;
    returns the player's score in each of those windows."""
    scores = {}
    for period in periods.windows_of(now):
        insert = dialect_insert(WindowScore, {"period": period, "user_id": ticket.user_id,
                                              "score": ticket.points, "score_reached_at": now,
                                              "region": region})
        scores[period] = db.session.execute(insert.on_conflict_do_update(
            index_elements=["period", "user_id"],
            set_={"score": WindowScore.score + insert.excluded.score,
                  "score_reached_at": insert.excluded.score_reached_at},
        ).returning(WindowScore.score)).scalar_one()
    return scores


def _audit(attempt: Attempt, now, outcome, *, action_type=None, delta=0, score_after=None,
           reason=None):
    db.session.add(
        AuditEvent(
            at=now,
            user_id=attempt.user_id,
            action_type=action_type,
            ticket_id=attempt.ticket_id,
            delta=delta,
            score_after=score_after,
            outcome=outcome,
            reason=reason,
            request_id=attempt.request_id,
            client_ip=attempt.client_ip,
        )
    )
