"""The action catalog and the single-use tickets that prove an action was started."""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from ..core import clock, ticket_ids
from ..core.errors import ApiError
from ..data.db import (
    autocommit_row,
    db,
    insert_ignoring_duplicates,
    on_postgres,
    reading,
)
from ..data.models import ActionTicket, ActionType, User
from .players import arriving, ensure_player, follow_region
from .scoring import refusal_error

# Defaults for a new installation: one action with no limits at all, and others that show each
# kind of limit. An operator's later changes to these rows are never overwritten.
DEFAULT_CATALOG = (
    {"id": "click", "points": 1, "min_seconds": 0, "cooldown_seconds": 0, "daily_limit": None},
    {"id": "quiz", "points": 10, "min_seconds": 5, "cooldown_seconds": 0, "daily_limit": None},
    {"id": "level", "points": 50, "min_seconds": 30, "cooldown_seconds": 60, "daily_limit": 20},
    {"id": "daily-bonus", "points": 25, "min_seconds": 0, "cooldown_seconds": 0, "daily_limit": 1},
)


def seed_catalog() -> int:
    """Add the default action types that are missing; returns how many were added."""
    added = 0
    for row in DEFAULT_CATALOG:
        added += db.session.execute(insert_ignoring_duplicates(ActionType, row)).rowcount
    db.session.commit()
    return added


def list_actions() -> list[dict]:
    stmt = select(ActionType).where(ActionType.enabled.is_(True)).order_by(ActionType.id)
    with reading() as session:
        return [kind.to_dict() for kind in session.scalars(stmt)]


# A type of the right form that the catalog does not have (or has disabled) names nothing,
# as an unknown group or player does.
UNKNOWN_TYPE = "Unknown action type."


# PostgreSQL issues a ticket in one statement, run as the function ``issue_ticket`` (its
# rendering below, held by migration 0020) through the autocommit engine: the player's
# row for a newcomer, the ticket (never to a banned player), and the region the player had
# (to follow a new claim). It answers one row whatever happened, so a refusal costs nothing
# more. The ban is read under a lock on the player's row (the one the ticket's foreign key
# takes anyway), not from the statement's snapshot: a ban holds that row from before it
# sets the flag until it commits, and voids the open tickets under it (moderation.ban). So
# a start either waits for the ban and reads it, or holds the ban back until its ticket is
# committed, and the ban voids that ticket. From the snapshot, a start under way as a ban
# committed issued a ticket the ban never saw, and an unban made it spendable. It answers the
# type's longest ticket life recorded so far too (_record_life).
_START = """
WITH kind AS (SELECT id, points, min_seconds, longest_life_seconds FROM action_types
              WHERE id = %(type)s AND enabled),
known AS (SELECT region, banned FROM users WHERE id = %(user)s FOR KEY SHARE),
player AS (
    INSERT INTO users (id, display_name, region, score, score_reached_at, created_at)
    SELECT %(user)s, %(name)s, %(region)s, 0, %(now)s, %(now)s FROM kind
    ON CONFLICT (id) DO NOTHING),
ticket AS (
    INSERT INTO action_tickets
        (id, user_id, action_type, points, created_at, not_before, expires_at)
    SELECT %(ticket)s, %(user)s, kind.id, kind.points, %(now)s,
           %(now)s + make_interval(secs => kind.min_seconds),
           %(now)s + make_interval(secs => kind.min_seconds + %(ttl)s)
    FROM kind WHERE NOT EXISTS (SELECT 1 FROM known WHERE banned)
    RETURNING points, not_before, expires_at)
SELECT ticket.points, ticket.not_before, ticket.expires_at,
       EXISTS (SELECT 1 FROM known) AS was_known,
       (SELECT region FROM known)::text AS known_region,
       EXISTS (SELECT 1 FROM known WHERE banned) AS banned,
       (SELECT longest_life_seconds FROM kind) AS longest_life
FROM (VALUES (1)) AS one LEFT JOIN ticket ON true
"""

# Its inputs and its answer's columns, with their PostgreSQL types.
_START_INPUTS = (("type", "text"), ("user", "text"), ("name", "text"), ("region", "text"),
                 ("now", "timestamp"), ("ticket", "text"), ("ttl", "integer"))
_START_ANSWER = (("points", "integer"), ("not_before", "timestamp"),
                 ("expires_at", "timestamp"), ("was_known", "boolean"),
                 ("known_region", "text"), ("banned", "boolean"), ("longest_life", "integer"))
ISSUE_TICKET = "issue_ticket"
_ISSUE = (f"SELECT * FROM {ISSUE_TICKET}("
          + ", ".join(f"%({name})s" for name, _ in _START_INPUTS) + ")")


def issue_ticket_sql() -> str:
    """The CREATE FUNCTION statement of ``_START``. PL/pgSQL keeps a function's plans for
    the connection's life, where the statement sent as text was planned on every start:
    156 µs of the database's CPU against its 105 µs of execution (docs/PERFORMANCE.md,
    thirteenth round). A migration holds the rendered text; tests/play/test_actions.py
    fails when the two differ."""
    params = ", ".join(f"p_{name} {kind}" for name, kind in _START_INPUTS)
    answer = ", ".join(f"o_{name} {kind}" for name, kind in _START_ANSWER)
    query = re.sub(r"%\((\w+)\)s", r"p_\1", _START.strip())
    return (f"CREATE FUNCTION {ISSUE_TICKET}({params})\nRETURNS TABLE ({answer})\n"
            f"LANGUAGE plpgsql AS $$\nBEGIN\n    RETURN QUERY\n{query};\nEND\n$$")

# A completion's checks read the type's completions back as far as the longest life a
# ticket of the type was ever issued with (data/rules.py). The record only grows, so that a
# type whose min_seconds, or TICKET_TTL_SECONDS, was lowered keeps the older tickets' life.
_RECORD_LIFE = """
UPDATE action_types SET longest_life_seconds = %(life)s
WHERE id = %(type)s AND (longest_life_seconds IS NULL OR longest_life_seconds < %(life)s)
RETURNING longest_life_seconds
"""


@dataclass(frozen=True)
class Ticket:
    """An issued ticket, as its starter sees it."""

    id: str
    action_type: str
    points: int
    not_before: datetime
    expires_at: datetime


def start_action(claims: dict, action_type: str) -> Ticket:
    """Issue an unguessable single-use ticket for the token's user."""
    now = clock.now()
    player = arriving(claims, now)
    ticket_id = ticket_ids.new(now)  # its moment, and 192 random bits
    ttl = current_app.config["TICKET_TTL_SECONDS"]
    if on_postgres():
        row = autocommit_row(_ISSUE, {
            "type": action_type, "user": player["id"], "name": player["display_name"],
            "region": player["region"], "now": now, "ticket": ticket_id, "ttl": ttl})
        points, not_before, expires_at, was_known, known_region, banned, longest = row
        if banned:
            raise refusal_error("banned")
        if points is None:
            raise ApiError(404, UNKNOWN_TYPE)
        _record_life(action_type, expires_at - now, longest)
        if was_known:
            follow_region(player["id"], known_region, player["region"])
        return Ticket(ticket_id, action_type, points, not_before, expires_at)
    kind = db.session.get(ActionType, action_type)
    if kind is None or not kind.enabled:
        db.session.rollback()
        raise ApiError(404, UNKNOWN_TYPE)
    # ensure_player's INSERT took SQLite's one write lock, which a ban holds from its first
    # write to its commit: the ban read here is committed, or the ban waits for this ticket.
    ensure_player(claims)
    if db.session.get(User, player["id"]).banned:
        db.session.rollback()
        raise refusal_error("banned")
    if (kind.longest_life_seconds or 0) < kind.min_seconds + ttl:  # as _record_life
        kind.longest_life_seconds = kind.min_seconds + ttl
    not_before = now + timedelta(seconds=kind.min_seconds)
    ticket = Ticket(ticket_id, kind.id, kind.points, not_before,
                    not_before + timedelta(seconds=ttl))
    db.session.add(ActionTicket(id=ticket.id, user_id=player["id"], action_type=kind.id,
                                points=kind.points, created_at=now, not_before=not_before,
                                expires_at=ticket.expires_at))
    db.session.commit()
    return ticket


def _record_life(action_type: str, life: timedelta, longest: int | None) -> None:
    """Record a ticket's life as its type's longest, if it is longer (rarely: after the
    catalog or the setting grew). It commits before the ticket is answered, so before it
    can be completed: every completion of a ticket comes after its life is recorded, and
    the checks of the completions after it read back that far. In a statement of its own,
    taken only when needed, so that a start writes only the player's rows."""
    seconds = -(-life // timedelta(seconds=1))  # whole seconds, rounded up
    if longest is None or longest < seconds:
        autocommit_row(_RECORD_LIFE, {"type": action_type, "life": seconds})
