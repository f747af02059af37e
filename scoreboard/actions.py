"""The action catalog and the single-use tickets that prove an action was started."""

import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from . import clock
from .errors import BadRequest
from .extensions import db
from .models import ActionTicket, ActionType
from .players import ensure_player, insert_ignoring_duplicates

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


def list_actions() -> list[ActionType]:
    stmt = select(ActionType).where(ActionType.enabled.is_(True)).order_by(ActionType.id)
    actions = list(db.session.scalars(stmt))
    db.session.rollback()
    return actions


def start_action(claims: dict, action_type: str) -> ActionTicket:
    """Issue an unguessable single-use ticket for the token's user."""
    kind = db.session.get(ActionType, action_type)
    if kind is None or not kind.enabled:
        db.session.rollback()
        raise BadRequest("Unknown action type.")
    ensure_player(claims)
    now = clock.now()
    ticket = ActionTicket(
        id=secrets.token_urlsafe(24),  # 192 random bits
        user_id=claims["sub"],
        action_type=kind.id,
        points=kind.points,
        created_at=now,
        not_before=now + timedelta(seconds=kind.min_seconds),
        expires_at=now
        + timedelta(seconds=kind.min_seconds + current_app.config["TICKET_TTL_SECONDS"]),
    )
    db.session.add(ticket)
    db.session.commit()
    return ticket
