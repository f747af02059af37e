"""A player's own place on a view: rank, and the players just above and below."""

from sqlalchemy import and_, func, or_, select

from .errors import ApiError
from .extensions import db
from .leaderboard import ranking_order
from .models import User
from .views import View


def _ahead(rows, score, reached_at, user_id):
    """Rows that come before (score, reached_at, user_id) in the board's order."""
    return or_(
        rows.c.score > score,
        and_(rows.c.score == score, rows.c.score_reached_at < reached_at),
        and_(rows.c.score == score, rows.c.score_reached_at == reached_at,
             rows.c.id < user_id),
    )


def _entry(row, rank) -> dict:
    return {"userId": row.id, "displayName": row.display_name, "score": row.score,
            "rank": rank}


def rank_of(view: View, user_id: str) -> dict:
    """The player's score and rank in ``view`` (rank None when not on it); 404 if unknown."""
    user = db.session.get(User, user_id)
    if user is None:
        db.session.rollback()
        raise ApiError(404, "No such player.")
    rows = view.rows()
    me = db.session.execute(select(rows).where(rows.c.id == user_id)).first()
    rank = None
    if me is not None:
        rank = 1 + db.session.scalar(select(func.count()).select_from(rows).where(
            _ahead(rows, me.score, me.score_reached_at, me.id)))
    db.session.rollback()
    return {"userId": user.id, "displayName": user.display_name, "region": user.region,
            "score": me.score if me else 0, "rank": rank}


def around(view: View, user_id: str, radius: int) -> dict:
    """The player and up to ``radius`` players either side of them on ``view``."""
    mine = rank_of(view, user_id)
    if mine["rank"] is None:
        return {**mine, "around": []}
    first = max(1, mine["rank"] - radius)
    rows = view.rows()
    found = db.session.execute(
        select(rows).order_by(*ranking_order(rows.c))
        .offset(first - 1).limit(mine["rank"] + radius - first + 1)
    ).all()
    db.session.rollback()
    return {**mine, "around": [_entry(row, first + i) for i, row in enumerate(found)]}
