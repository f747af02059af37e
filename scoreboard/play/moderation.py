"""Moderation: admins hide, show again, ban, unban and adjust players, each for a reason,
and page through the audit log, where each of those acts is a row naming its actor.

A hidden player's score keeps counting (plays, windows, the audit log) but shows on no
board, rank or stream; a banned one is hidden too, and their token writes nothing (no
action, group, invitation or profile change; sign-out stays open) until the ban is lifted,
while the public boards stay open to it. Each act commits with its audit row and moves the
boards the player showed on before or after it, as any other change does
(leaderboard.commit_announcing); the rank sets then follow the database (ranks.reseat).

An act is applied once per idempotency key, which its audit row keeps: the same act again
under the key (a request run again after a dropped connection, reconnect.py; a client
repeating a request whose reply it lost) answers what the first did and announces the
player's boards again, so that a read after this reply shows the act too.
"""

import logging
from dataclasses import dataclass

from sqlalchemy import case, func, select, update

from ..boards import leaderboard, ranks
from ..core import clock, contract, periods, viewers
from ..core.contract import USER_ID
from ..core.errors import ApiError, BadRequest
from ..data import audit
from ..data.db import db, dialect_insert, on_postgres, reading
from ..data.models import ActionTicket, AuditEvent, User, WindowScore
from . import scoring
from .players import boards_counting, boards_showing

log = logging.getLogger(__name__)

# Printable, and not only blanks: the blanks are spelt out (Unicode's spaces), as Python's
# \s and the document's ECMA-262 \s differ on a few.
_BLANKS = r"\x00-\x20\x7f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
REASON = contract.Text(rf"[^\x00-\x1f\x7f]*[^{_BLANKS}][^\x00-\x1f\x7f]*", max_length=200,
                       message="reason must be 1 to 200 printable characters.",
                       description="why, for the audit log: printable, not only blanks")
DELTA = contract.Adjustment()
# The audit log's outcomes: a player's plays, then the admins' acts.
OUTCOMES = ("accepted", "replayed", "rejected", scoring.RATE_LIMITED,
            "hidden", "unhidden", "banned", "unbanned", "adjusted")
# The outcomes whose delta changed a score: verify adds them up.
SCORED = ("accepted", "adjusted")
# The outcomes of refused attempts, whose rows' counts verify reports.
REFUSED = ("rejected", scoring.RATE_LIMITED)
# An act's idempotency key sent again with another act (422).
KEY_REUSED = "Idempotency-Key was used for another request."
# The seed of the advisory locks on idempotency keys, apart from other advisory locks.
KEY_LOCKS = 0x1DE5


@dataclass(frozen=True)
class Actor:
    """Who moderates, as the audit log names them (an admin's ``sub``, or ``cli:<os
    user>``), the request they did it in (none from the command line), and the act's
    idempotency key (None: an act that is never repeated, as a command's)."""

    name: str
    request_id: str | None = None
    client_ip: str | None = None
    key: str | None = None


def hide(actor: Actor, user_id: str, reason: str) -> dict:
    """Take the player off every board, rank and stream; their score keeps counting."""
    _moderate(actor, user_id, reason, "hidden", _setting(hidden=True), everywhere=True)
    return {"userId": user_id, "hidden": True}


def unhide(actor: Actor, user_id: str, reason: str) -> dict:
    """Show the player again, with the score they have now."""
    _moderate(actor, user_id, reason, "unhidden", _setting(hidden=False), everywhere=True)
    return {"userId": user_id, "hidden": False}


def ban(actor: Actor, user_id: str, reason: str) -> dict:
    """Hide the player and void their open tickets; their writes are refused from now on
    (refuse_banned), and every worker ends their streams of groups' boards. The tickets are
    voided under the lock on the player's row that _moderate takes first, and which a start
    takes too before it reads the ban (actions.py): a start committed before the lock has
    its ticket voided here, and one after it reads the ban. So no ticket outlives the ban,
    and an unban revives none."""
    def change(user: User, now) -> None:
        user.banned = user.hidden = True
        db.session.execute(update(ActionTicket).where(
            ActionTicket.user_id == user.id, ActionTicket.completed_at.is_(None),
            ActionTicket.expires_at > now).values(expires_at=now))

    _moderate(actor, user_id, reason, "banned", change, everywhere=True)
    leaderboard.end_streams(viewers.player(user_id))
    return {"userId": user_id, "banned": True}


def refuse_banned(user_id: str) -> None:
    """403 ``Player is banned.`` for a banned player: the one rule of a ban for each of
    their writes that does not read it in a statement of its own (start and update do:
    actions.py, rules.py)."""
    if db.session.scalar(select(User.banned).where(User.id == user_id)):
        raise scoring.refusal_error("banned")


def unban(actor: Actor, user_id: str, reason: str) -> dict:
    """Lift a ban. The player stays hidden until an admin shows them again (unhide)."""
    _moderate(actor, user_id, reason, "unbanned", _setting(banned=False))
    return {"userId": user_id, "banned": False}


def adjust(actor: Actor, user_id: str, delta: int, reason: str) -> dict:
    """Add ``delta`` points (either sign) to the player's all-time score and to the current
    day and week, as if gained now. An adjustment that would take the all-time score below
    0 is refused (400); a window's score stops at 0, since it may hold less than the points
    being taken back (verify replays the same rule)."""
    if not DELTA.fits(delta):
        raise BadRequest(DELTA.message)

    def change(user: User, now) -> None:
        if user.score + delta < 0:
            raise BadRequest(f"The score is {user.score}: an adjustment cannot take it below 0.")
        user.score += delta
        user.score_reached_at = now
        _add_to_windows(user, delta, now)

    score = _moderate(actor, user_id, reason, "adjusted", change, delta=delta)
    return {"userId": user_id, "score": score}


def _setting(**flags):
    def change(user: User, now) -> None:
        for name, value in flags.items():
            setattr(user, name, value)

    return change


def _moderate(actor: Actor, user_id: str, reason: str, outcome: str, change, delta=0,
              everywhere=False) -> int:
    """Lock the player (404 if unknown) and ``change(user, now)`` them, adding ``delta``
    points, or raising an ApiError to refuse; audit it and commit, moving every board the
    player showed on before or after (``everywhere``: past windows' too); then their rank
    sets follow. Returns the score. An act its key shows done is not changed again."""
    if not REASON.fits(reason):
        raise BadRequest(REASON.message)
    now = clock.now()
    try:
        # No player has an id outside USER_ID (and PostgreSQL refuses a NUL in a query).
        user = USER_ID.fullmatch(user_id) and db.session.execute(
            select(User).where(User.id == user_id).with_for_update()).scalar_one_or_none()
        if not user:
            raise ApiError(404, "No such player.")
        done = _done_before(actor, (user.id, outcome, delta, reason))
        if done is None:
            before = boards_showing(user, everywhere)
            change(user, now)
            after = boards_showing(user, everywhere)
            score = user.score
            moved = before + after
            db.session.add(AuditEvent(**audit.event(
                at=now, user_id=user.id, outcome=outcome, delta=delta, score_after=score,
                reason=reason, request_id=actor.request_id, client_ip=actor.client_ip,
                actor=actor.name, idempotency_key=actor.key)))
            db.session.flush()
        else:
            # Which boards the act moved is not known now: announce all the player's.
            log.info("admin act %s of %s repeated under its idempotency key: not applied "
                     "again", outcome, user.id)
            score, moved = done.score_after, boards_counting(user, everywhere)
    except ApiError:
        db.session.rollback()
        raise
    region = user.region
    leaderboard.commit_announcing(list(dict.fromkeys(moved)))
    ranks.reseat(user_id, region)
    return score


def _done_before(actor: Actor, act: tuple) -> AuditEvent | None:
    """The audit row of the act ``actor.key`` was first used for, if it was: this very act
    (player, outcome, delta, reason), or else 422."""
    if actor.key is None:
        return None
    if on_postgres():
        # Two acts under one key for two players do not wait for each other's row lock:
        # the key's own lock, until commit, makes the second find the first's row. (A
        # unique index would need the partition key: migration 0016.)
        db.session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(
            f"{actor.name}\n{actor.key}", KEY_LOCKS))))
    done = db.session.execute(select(AuditEvent).where(
        AuditEvent.actor == actor.name, AuditEvent.idempotency_key == actor.key)).scalar()
    if done is not None and (done.user_id, done.outcome, done.delta, done.reason) != act:
        raise ApiError(422, KEY_REUSED)
    return done


def _add_to_windows(user: User, delta: int, now) -> None:
    for period in periods.windows_of(now):
        if delta > 0:
            insert = dialect_insert(WindowScore, {
                "period": period, "user_id": user.id, "score": delta,
                "score_reached_at": now, "region": user.region})
            db.session.execute(insert.on_conflict_do_update(
                index_elements=["period", "user_id"],
                set_={"score": WindowScore.score + delta, "score_reached_at": now}))
        else:  # a window the player has no score in has nothing to take back
            lowered = WindowScore.score + delta
            db.session.execute(update(WindowScore).where(
                WindowScore.period == period, WindowScore.user_id == user.id,
            ).values(score=case((lowered < 0, 0), else_=lowered), score_reached_at=now))


def audit_page(user_id: str | None = None, outcome: str | None = None,
               before: int | None = None, limit: int = 50) -> dict:
    """The audit log newest first, ``limit`` events from below the id ``before``, of one
    player and/or one outcome; ``next`` is the ``before`` of the page after (None: the
    last page). Keyset paging: a page costs the same however deep it is."""
    stmt = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit + 1)
    if user_id is not None:
        stmt = stmt.where(AuditEvent.user_id == user_id)
    if outcome is not None:
        stmt = stmt.where(AuditEvent.outcome == outcome)
    if before is not None:
        stmt = stmt.where(AuditEvent.id < before)
    with reading() as session:
        found = [_event(row) for row in session.scalars(stmt)]
    more = len(found) > limit
    return {"events": found[:limit], "next": found[limit - 1]["id"] if more else None}


def _event(row: AuditEvent) -> dict:
    return {"id": row.id, "at": clock.iso(row.at), "userId": row.user_id, "actor": row.actor,
            "outcome": row.outcome, "actionType": row.action_type, "delta": row.delta,
            "scoreAfter": row.score_after, "reason": row.reason, "count": row.count,
            "requestId": row.request_id, "clientIp": row.client_ip}
