"""Completing an action: the one place a score rises, in one transaction with its audit row."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from . import clock, leaderboard, periods, ranks
from .errors import ApiError, BadRequest, Forbidden
from .extensions import db
from .models import ActionTicket, ActionType, AuditEvent, User, WindowScore
from .players import dialect_insert

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Attempt:
    """Who asks to complete which ticket, and where the request came from (for the audit)."""

    user_id: str
    ticket_id: str
    request_id: str | None = None
    client_ip: str | None = None


def complete_action(attempt: Attempt) -> int:
    """Consume the ticket and add its points; returns the user's score after it.

    A repeat of a ticket this user already completed returns the score it produced and adds
    nothing. Any rejection is audited in its own transaction and raised as an ApiError.
    """
    now = clock.now()
    ticket = None
    try:
        ticket = _lock_ticket(attempt)
        if ticket.completed_at is not None:
            _audit(attempt, now, "replayed", action_type=ticket.action_type,
                   score_after=ticket.score_after)
            db.session.commit()
            return ticket.score_after
        _check_ticket(ticket, now)
        score, moved, placing = _add_points(attempt, ticket, now)
        leaderboard.commit_announcing(moved)
        ranks.record(attempt.user_id, *placing)
    except ApiError as rejection:
        record_rejection(attempt, rejection, ticket.action_type if ticket else None)
        raise
    log.info("score of %s is %s after ticket %s", attempt.user_id, score, attempt.ticket_id)
    return score


def record_rejection(attempt: Attempt, rejection: ApiError, action_type=None) -> None:
    """Audit a refused attempt by an authenticated user, whatever else was rolled back."""
    db.session.rollback()
    _audit(attempt, clock.now(), "rejected", action_type=action_type,
           reason=rejection.description)
    db.session.commit()
    log.info("refused %s for %s: %s", attempt.ticket_id, attempt.user_id, rejection.description)


def _lock_ticket(attempt: Attempt) -> ActionTicket:
    ticket = db.session.execute(
        select(ActionTicket).where(ActionTicket.id == attempt.ticket_id).with_for_update()
    ).scalar_one_or_none()
    if ticket is None:
        raise BadRequest("Unknown action ticket.")
    if ticket.user_id != attempt.user_id:
        raise Forbidden()
    return ticket


def _check_ticket(ticket: ActionTicket, now: datetime) -> None:
    if now >= ticket.expires_at:
        raise BadRequest("Action ticket has expired.")
    if now < ticket.not_before:
        raise BadRequest("Action completed too soon.")
    # The player row lock serialises this player's completions, so two tickets of one type
    # cannot both pass the cooldown or daily-limit checks below.
    db.session.execute(select(User.id).where(User.id == ticket.user_id).with_for_update())
    kind = db.session.get(ActionType, ticket.action_type)
    if not kind.enabled:
        raise BadRequest("Action type is disabled.")
    done = select(func.count(), func.max(ActionTicket.completed_at)).where(
        ActionTicket.user_id == ticket.user_id,
        ActionTicket.action_type == kind.id,
        ActionTicket.completed_at.is_not(None),
    )
    if kind.cooldown_seconds:
        since = now - timedelta(seconds=kind.cooldown_seconds)
        _, last = db.session.execute(done.where(ActionTicket.completed_at > since)).one()
        if last is not None:
            raise BadRequest("Action is cooling down.")
    if kind.daily_limit is not None:
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        count, _ = db.session.execute(done.where(ActionTicket.completed_at >= midnight)).one()
        if count >= kind.daily_limit:
            raise BadRequest("Daily limit for this action reached.")


def _add_points(attempt: Attempt, ticket: ActionTicket, now: datetime):
    """Add the points everywhere they count; returns the new score, the views whose top the
    change can reach, and what places the player in the rank sets after the commit."""
    score, region = db.session.execute(
        update(User)
        .where(User.id == ticket.user_id)
        .values(score=User.score + ticket.points, score_reached_at=now)
        .returning(User.score, User.region)
    ).one()
    in_window = _add_to_windows(ticket, region, now)
    ticket.completed_at = now
    ticket.score_after = score
    _audit(attempt, now, "accepted", action_type=ticket.action_type, delta=ticket.points,
           score_after=score)
    moved = leaderboard.views_moved(ticket.user_id, region, score, in_window, now)
    return score, moved, (region, score, now, in_window)


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
