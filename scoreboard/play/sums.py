"""The scored events of a range added up by PostgreSQL, a player and a window at a time, in
a temporary table that stays on the server: the archive's checkpoint (checkpoint.py)
carries them on, and verify --since (proof.py) compares them with the scores held. Only
the differences come back. Held in the process instead, eleven months of a million
players' sums and windows were millions of objects and gigabytes, the garbage collector
passed over them again and again, and looking their stored scores up a few thousand players
at a time scanned window_scores once per look-up (docs/PERFORMANCE.md, "verify --since in
the database").

That holds for the players who only gained points in the range, whose scores and windows
are plain sums of a checkpoint's score (never below 0: windows stop at 0) and their events.
A player who lost points (an adjustment, at which a window stops at 0) is added event by
event, in order, by the callers (proof.Tally).
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, column, func, or_, select, table, text

from ..core import periods
from ..data.models import CheckpointScore, User, WindowScore
from . import moderation

# The checkpoint's period of the all-time score.
ALL = "all"


def windows_between(period, since: datetime | None, until: datetime | None):
    """SQL: the windows (``period``, a column of their keys) that close after ``since`` and
    by ``until`` (UTC midnights; None: without a bound). Keys of one kind sort as their
    windows do, and a window closes by a midnight when it starts before the window of
    that midnight."""
    kinds = []
    for kind, key in (("day:", periods.day_key), ("week:", periods.week_key)):
        bounds = [period.startswith(kind)]
        bounds += [period >= key(since)] if since is not None else []
        bounds += [period < key(until)] if until is not None else []
        kinds.append(and_(*bounds))
    return or_(*kinds)


def add_up(connection, name: str, since: datetime | None, until: datetime | None) -> list:
    """The temporary table ``name`` (user_id, period, shift, lowest), dropped at the
    commit: the scored events from ``since`` until ``until`` (None: without a bound) added
    up by player and window (``ALL``: all time), and their lowest delta. Returns the
    players who lost points in the range. One scan of the range: its bounds leave out
    every partition outside it."""
    bounds = "".join([" AND at >= :since" if since is not None else "",
                      " AND at < :until" if until is not None else ""])
    connection.execute(text(
        f"CREATE TEMPORARY TABLE {name} ON COMMIT DROP AS"
        " WITH days AS (SELECT user_id, CAST(at AS date) AS day, sum(delta) AS shift,"
        "  min(delta) AS lowest FROM audit_events"
        f"  WHERE outcome IN :scored{bounds} GROUP BY user_id, day)"
        # The keys of periods.day_key and periods.week_key.
        " SELECT user_id, period, sum(shift) AS shift, min(lowest) AS lowest FROM days"
        " CROSS JOIN LATERAL (VALUES (:all), ('day:' || to_char(day, 'YYYY-MM-DD')),"
        "  ('week:' || to_char(day, 'IYYY-\"W\"IW'))) AS p (period)"
        " GROUP BY user_id, period"),
        {"scored": tuple(moderation.SCORED), "since": since, "until": until, "all": ALL})
    connection.execute(text(f"ANALYZE {name}"))  # for the joins' plans
    return connection.scalars(text(
        f"SELECT user_id FROM {name} WHERE period = :all AND lowest < 0 ORDER BY user_id"),
        {"all": ALL}).all()


def of(name: str):
    """The temporary table ``name`` of add_up, for statements."""
    return table(name, column("user_id"), column("period"), column("shift"),
                 column("lowest"))


@dataclass(frozen=True)
class Compared:
    players: int  # how many of the players compared the users table holds
    windows: int  # how many of their windows window_scores holds
    scores: list  # (user_id, held, expected) of the all-time scores that differ
    differ: list  # (user_id, period, held, expected) of the windows that differ
    moved: list  # (user_id, period) of the windows whose copy of the region differs


def recent_differences(connection, name: str, boundary: datetime | None) -> Compared:
    """The players of ``name`` (add_up from ``boundary`` on) who only gained points,
    compared with what the tables hold: their all-time score with the checkpoint's plus
    their sum, and each of their windows that closes after ``boundary`` with the
    checkpoint's (the week open at it) plus their sum in it."""
    sums = of(name)
    gained = [sums.c.period == ALL, sums.c.lowest >= 0]
    gainers = select(sums.c.user_id).where(*gained)
    held = func.coalesce(User.score, 0)
    expected = func.coalesce(CheckpointScore.score, 0) + sums.c.shift
    scores = connection.execute(
        select(sums.c.user_id, held, expected)
        .select_from(sums.outerjoin(User, User.id == sums.c.user_id).outerjoin(
            CheckpointScore, and_(CheckpointScore.user_id == sums.c.user_id,
                                  CheckpointScore.period == ALL)))
        .where(*gained, held != expected)).all()
    players = connection.scalar(select(func.count()).select_from(
        sums.join(User, User.id == sums.c.user_id)).where(*gained))

    events = select(sums.c.user_id, sums.c.period, sums.c.shift.label("score")).where(
        sums.c.period != ALL, sums.c.user_id.in_(gainers))
    checkpoint = select(CheckpointScore.user_id, CheckpointScore.period,
                        CheckpointScore.score).where(
        windows_between(CheckpointScore.period, boundary, None),
        CheckpointScore.user_id.in_(gainers))
    both = events.union_all(checkpoint).subquery()
    summed = select(both.c.user_id, both.c.period, func.sum(both.c.score).label("score")) \
        .group_by(both.c.user_id, both.c.period).subquery()
    stored = select(WindowScore.user_id, WindowScore.period, WindowScore.score,
                    WindowScore.region.is_distinct_from(User.region).label("moved")) \
        .join(User, User.id == WindowScore.user_id) \
        .where(windows_between(WindowScore.period, boundary, None),
               WindowScore.user_id.in_(gainers)).subquery()
    score, wanted = func.coalesce(stored.c.score, 0), func.coalesce(summed.c.score, 0)
    found = connection.execute(
        select(func.coalesce(summed.c.user_id, stored.c.user_id),
               func.coalesce(summed.c.period, stored.c.period), score, wanted,
               func.coalesce(stored.c.moved, False))
        .select_from(summed.join(stored, and_(summed.c.user_id == stored.c.user_id,
                                              summed.c.period == stored.c.period),
                                 full=True))
        .where(or_(score != wanted, stored.c.moved))).all()
    return Compared(players, connection.scalar(select(func.count()).select_from(stored)),
                    scores, [row[:4] for row in found if row[2] != row[3]],
                    [row[:2] for row in found if row[4]])
