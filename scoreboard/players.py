"""Player records: created on first sight of a token, named from its claims."""

import re

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from . import clock
from .extensions import db
from .models import User

USER_ID = re.compile(r"[A-Za-z0-9_.@:-]{1,64}")
REGION = re.compile(r"[A-Z]{2}")  # ISO 3166-1 alpha-2


def insert_ignoring_duplicates(model, values: dict):
    """INSERT ... ON CONFLICT DO NOTHING in the current database's dialect."""
    insert = pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    return insert(model).values(values).on_conflict_do_nothing()


def ensure_player(claims: dict) -> None:
    """Make sure the token's subject has a player row (concurrent first requests are safe)."""
    now = clock.now()
    user_id = claims["sub"]
    name, region = claims.get("name"), claims.get("region")
    # Claims come from an identity provider we do not control: keep only what fits.
    name = name.strip()[:64] if isinstance(name, str) and name.strip() else user_id
    region = region if isinstance(region, str) and REGION.fullmatch(region) else None
    db.session.execute(
        insert_ignoring_duplicates(
            User,
            {
                "id": user_id,
                "display_name": name,
                "region": region,
                "score": 0,
                "score_reached_at": now,
                "created_at": now,
            },
        )
    )
