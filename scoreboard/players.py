"""Player records: created on first sight of a token, named from its claims."""

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from . import clock
from .extensions import db
from .models import User


def insert_ignoring_duplicates(model, values: dict):
    """INSERT ... ON CONFLICT DO NOTHING in the current database's dialect."""
    insert = pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    return insert(model).values(values).on_conflict_do_nothing()


def ensure_player(claims: dict) -> None:
    """Make sure the token's subject has a player row (concurrent first requests are safe)."""
    now = clock.now()
    user_id = claims["sub"]
    db.session.execute(
        insert_ignoring_duplicates(
            User,
            {
                "id": user_id,
                "display_name": (claims.get("name") or user_id)[:64],
                "region": claims.get("region"),
                "score": 0,
                "score_reached_at": now,
                "created_at": now,
            },
        )
    )
