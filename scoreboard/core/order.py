"""The board's one order, and its three renderings: SQL's ORDER BY, the "who is ahead of this
player" predicate that ranks count, and the Redis rank-set member whose byte order is the
board's. tests/test_order.py checks that all three agree.

Higher score first; on equal scores, whoever reached that score first; then the player id,
compared by its bytes everywhere (COLLATE "C" on PostgreSQL, migration 0006).
"""

from datetime import datetime, timedelta

from sqlalchemy import and_, or_

# (field, higher first?), most significant first.
KEYS = (("score", True), ("score_reached_at", False), ("id", False))

CEILING = 10**18  # above any score: a member spells CEILING - score, so a higher one sorts first
EPOCH = datetime(1970, 1, 1)


def order_by(columns) -> tuple:
    """ORDER BY clauses for ``columns`` (a table, or a subquery's ``.c``)."""
    return tuple(getattr(columns, name).desc() if higher else getattr(columns, name).asc()
                 for name, higher in KEYS)


def ahead_of(columns, me):
    """A WHERE clause for the rows of ``columns`` before ``me`` (a row with the same fields)."""
    return or_(*(
        and_(*(getattr(columns, earlier) == getattr(me, earlier) for earlier, _ in KEYS[:i]),
             getattr(columns, name) > getattr(me, name) if higher
             else getattr(columns, name) < getattr(me, name))
        for i, (name, higher) in enumerate(KEYS)))


def member(score: int, reached_at: datetime, user_id: str) -> str:
    """A name whose byte order is the board's order, for a sorted set whose scores are all
    equal (Redis then orders by name)."""
    return member_at(score, micros(reached_at), user_id)


def micros(reached_at: datetime) -> int:
    return (reached_at - EPOCH) // timedelta(microseconds=1)


def member_at(score: int, reached_at_micros: int, user_id: str) -> str:
    """``member`` for a time already in ``micros``: a write names its player in each of
    its windows, at one time."""
    return f"{CEILING - score:019d}|{reached_at_micros:019d}|{user_id}"


def score_of(name: str) -> int:
    return CEILING - int(name.split("|", 1)[0])


def user_of(name: str) -> str:
    return name.split("|", 2)[2]
