"""Completing an action: the one place a score rises, in one transaction with its audit row.

The rules themselves (what is read and locked, which refusal wins, what is written) are
defined once, in rules.py. On PostgreSQL they run as one call of the ``complete_dated_action``
procedure rendered from them (migration 0019), so an update costs one database round trip;
the embedded SQLite path runs the same steps as statements of its own.
tests/test_scoring_backends.py plays one sequence on both and compares every score, window
and audit row. Every accepted change takes the next board version once it has committed;
the views it may have moved are decided afterwards, from the cut-offs of the boards this
worker holds.
"""

import logging
from dataclasses import dataclass, field, replace

from flask import g
from sqlalchemy import select

from ..boards import leaderboard, ranks
from ..core import clock, periods, ticket_ids
from ..core.errors import ApiError, BadRequest, Forbidden
from ..data import audit, rules
from ..data.db import autocommit_row, db, dialect_insert, on_postgres
from ..data.models import ActionTicket, AuditEvent, GroupMember, User
from .players import boards_counting

log = logging.getLogger(__name__)

# The audit outcome of updates refused by the player's rate limit, counted a minute a row.
RATE_LIMITED = "rate_limited"
# What each refusal of the write path answers; the codes are the function's too.
REFUSALS = {
    "unknown": (400, "Unknown action ticket."),
    "not_yours": (403, None),  # the generic 403 message: nothing to learn about the ticket
    "expired": (400, "Action ticket has expired."),
    "too_soon": (400, "Action completed too soon."),
    "disabled": (400, "Action type is disabled."),
    "cooling_down": (400, "Action is cooling down."),
    "daily_limit": (400, "Daily limit for this action reached."),
    "banned": (403, "Player is banned."),
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
    hidden: bool = False


def refusal_error(code: str) -> ApiError:
    status, message = REFUSALS[code]
    if status == 403:
        return Forbidden(message) if message else Forbidden()
    return BadRequest(message)


def complete_action(attempt: Attempt) -> int:
    """Consume the ticket and add its points; returns the user's score after it.

    A repeat of a ticket this user already completed returns the score it produced and adds
    nothing, and announces the player again (_announce_again). A rejection is audited in its
    own transaction and raised as an ApiError.
    """
    if attempt.named_user not in (None, attempt.user_id):
        record_rejection(attempt, Forbidden(f"Token is not for user {attempt.named_user}."))
        raise Forbidden()
    now = clock.now()
    inputs = procedure_inputs(attempt, now)
    done = _complete_in_postgres(inputs) if on_postgres() else _complete_in_session(inputs)
    if done.refusal == "unknown":
        anothers = _anothers(attempt.ticket_id, inputs["issued"])
        if anothers is not None:
            done = replace(done, refusal="not_yours", action_type=anothers)
    g.update_outcome = done.refusal or done.outcome  # for the route's count (metrics.py)
    if done.outcome == "rejected":
        rejection = refusal_error(done.refusal)
        record_rejection(attempt, rejection, done.action_type)
        raise rejection
    if done.outcome == "accepted" and not done.hidden:  # a hidden score moves no board
        moved = leaderboard.views_moved(done.region, done.groups, done.score, done.windows, now)
        leaderboard.announce_change(done.version, moved, ranks.placements(
            attempt.user_id, done.region, done.score, now, done.windows))
        # Debug only: the audit log already holds every change, and a line per update at
        # game rates measured at several per cent of a worker's time.
        log.debug("score of %s is %s after ticket %s", attempt.user_id, done.score,
                  attempt.ticket_id)
    elif done.outcome == "replayed":
        _announce_again(attempt.user_id)
    return done.score


def procedure_inputs(attempt: Attempt, now) -> dict:
    """The rules' inputs (rules.INPUTS) for an attempt at ``now``."""
    day, week = periods.windows_of(now)
    return {"ticket": attempt.ticket_id, "user": attempt.user_id, "now": now, "day": day,
            "week": week, "midnight": periods.day_start(now),
            "request_id": attempt.request_id, "client_ip": attempt.client_ip,
            "issued": ticket_ids.issued_at(attempt.ticket_id)}


def _announce_again(user_id: str) -> None:
    """A repeat is how a client learns that its first try committed, and that try's notice
    may never have gone: its worker died, or its connection was cut, after the commit. So a
    repeat announces every board that counts the player now, and seats them in the rank
    sets from what the database holds: a read after its reply shows the score. Repeats are
    rare, so their cost (a few queries) does not matter."""
    user = db.session.get(User, user_id)
    if user is None or user.hidden:  # a hidden score is on no board
        return
    moved, region = list(boards_counting(user)), user.region
    leaderboard.commit_announcing(moved)
    ranks.reseat(user_id, region)


def count_over_limit(attempt: Attempt, rejection: ApiError) -> None:
    """Audit an update refused by the player's own rate limit: one more in the count of
    their refusals this minute. A client hammering past its limit adds a row a minute, not
    one a request; every other refusal comes after the limit's count, so is bounded by it."""
    db.session.rollback()
    row = audit.event(at=clock.now().replace(second=0, microsecond=0), user_id=attempt.user_id,
                      outcome=RATE_LIMITED, reason=rejection.description,
                      request_id=attempt.request_id, client_ip=attempt.client_ip)
    db.session.execute(dialect_insert(AuditEvent, row).on_conflict_do_update(
        index_elements=["user_id", "outcome", "at"],
        index_where=AuditEvent.outcome == RATE_LIMITED,
        set_={"count": AuditEvent.count + 1}))
    db.session.commit()


def record_rejection(attempt: Attempt, rejection: ApiError, action_type=None) -> None:
    """Audit a refused attempt by an authenticated user, whatever else was rolled back."""
    db.session.rollback()
    db.session.add(AuditEvent(**audit.event(
        at=clock.now(), user_id=attempt.user_id, outcome="rejected", action_type=action_type,
        ticket_id=attempt.ticket_id, reason=rejection.description,
        request_id=attempt.request_id, client_ip=attempt.client_ip)))
    db.session.commit()
    log.info("refused %s for %s: %s", attempt.ticket_id, attempt.user_id, rejection.description)


def _anothers(ticket_id: str, issued) -> str | None:
    """The action type of a ticket the player does not have, if it is another player's: the
    one look-up of an update that does not name the player (with the tables distributed by
    player, a query of every shard), made only for a refused attempt; in the one day
    partition of its moment, when its id holds one."""
    where = [ActionTicket.id == ticket_id]
    if issued is not None:
        where.append(ActionTicket.created_at == issued)
    found = db.session.scalar(select(ActionTicket.action_type).where(*where))
    db.session.rollback()
    return found


def _complete_in_postgres(inputs: dict) -> Outcome:
    """One call of the complete_dated_action procedure: the write commits inside it, and the
    board version is taken after."""
    row = autocommit_row(rules.CALL, inputs)
    return _outcome({**inputs, **dict(zip((name for name, _ in rules.RESULT), row))})


def _complete_in_session(inputs: dict) -> Outcome:
    """The same rules as separate statements (SQLite), then commit; the version after."""
    done = rules.run(db.session, inputs)
    if done["outcome"] == "rejected":
        db.session.rollback()
        return _outcome(done)
    if done["outcome"] == "accepted":
        done["groups"] = db.session.scalars(
            select(GroupMember.group_id).where(GroupMember.user_id == inputs["user"])).all()
    db.session.commit()
    if done["outcome"] == "accepted":
        done["version"] = leaderboard.next_version()
    return _outcome(done)


def _outcome(done: dict) -> Outcome:
    windows = ({done["day"]: done["day_score"], done["week"]: done["week_score"]}
               if done["outcome"] == "accepted" else {})
    return Outcome(done["outcome"], done.get("refusal"), done.get("action_type"),
                   done.get("score"), done.get("region"), windows, done.get("version"),
                   tuple(done.get("groups") or ()), bool(done.get("hidden")))
