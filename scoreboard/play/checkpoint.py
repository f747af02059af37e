"""The checkpoint carried on by an archive (archive.py) over the events it takes: each
player's all-time score, and the score of the week still open at the new boundary (unless
it is a Monday). The windows that close by the boundary are final, and their events leave
the log: each is checked here against them, once, and no longer held (proof.py).

On PostgreSQL the database does it in one scan of the archived range: a player's events
add up by day, the days into their windows, and the sums are compared with window_scores
and added to the checkpoint without leaving the server. That holds for the players who
only gained points in the range, whose windows are plain sums. A player who lost points
(an adjustment: a window stops at 0) is added event by event, in order (proof.Tally), as
every player is on SQLite.
"""

from datetime import datetime

from sqlalchemy import and_, delete, func, select, text

from ..core import periods
from ..data.models import CheckpointScore, WindowScore
from . import proof, sums

# Checkpoint changes sent to the database at a time.
CHANGES_AT_ONCE = 50_000
# The archived range's sums (PostgreSQL), for the transaction.
SUMS = sums.of("archived_sums")


def carry_on(connection, previous: datetime | None, boundary: datetime) -> list[str]:
    """Carry the checkpoint on from ``previous`` (None: the first) to ``boundary``; the
    windows closing in between that differ from their events, a line each. On a
    difference the caller rolls the transaction back."""
    still_open = periods.week_key(boundary)
    held_week = periods.week_key(previous) if previous is not None else None
    by_events, wrong = None, []  # None: every player
    if connection.dialect.name == "postgresql":
        by_events, wrong = _in_sql(connection, previous, boundary, still_open, held_week)
    if by_events is None or by_events:
        tally = proof.tally_of(connection, previous, boundary, by_events)
        held = {} if held_week is None else {
            (period, user_id): score for user_id, period, score in connection.execute(
                select(CheckpointScore.user_id, CheckpointScore.period, CheckpointScore.score)
                .where(CheckpointScore.period == held_week,
                       *_among(CheckpointScore.user_id, by_events)))}
        wrong += proof.closing_differences(connection, tally, held, previous, boundary,
                                           by_events)
        _add(connection, [change for change in tally.changes()
                          if change[1] in (proof.ALL, still_open)])
    connection.execute(delete(CheckpointScore).where(
        CheckpointScore.period.not_in([proof.ALL, still_open])))
    return sorted(wrong)


def _among(user_id, players: list | None) -> list:
    return [] if players is None else [user_id.in_(players)]


def _in_sql(connection, previous, boundary, still_open: str, held_week: str | None):
    """The players who only gained points: checked and added up by the database. Returns
    the others, and the differences found."""
    losers = sums.add_up(connection, SUMS.name, previous, boundary)
    gains = [SUMS.c.user_id.not_in(losers)]
    expected = select(SUMS.c.user_id, SUMS.c.period, SUMS.c.shift.label("score")).where(
        SUMS.c.period.not_in([proof.ALL, still_open]), *gains)
    if held_week is not None and held_week != still_open:
        expected = expected.union_all(select(
            CheckpointScore.user_id, CheckpointScore.period, CheckpointScore.score).where(
            CheckpointScore.period == held_week, CheckpointScore.user_id.not_in(losers)))
    expected = expected.subquery()
    summed = select(expected.c.user_id, expected.c.period,
                    func.sum(expected.c.score).label("score")).group_by(
        expected.c.user_id, expected.c.period).subquery()
    stored = select(WindowScore.user_id, WindowScore.period, WindowScore.score).where(
        sums.windows_between(WindowScore.period, previous, boundary),
        WindowScore.user_id.not_in(losers)).subquery()
    score, wanted = func.coalesce(stored.c.score, 0), func.coalesce(summed.c.score, 0)
    wrong = [proof.difference(proof.window(user_id, period), held, events)
             for user_id, period, held, events
             in connection.execute(select(
                 func.coalesce(summed.c.user_id, stored.c.user_id),
                 func.coalesce(summed.c.period, stored.c.period), score, wanted)
                 .select_from(summed.join(stored, and_(
                     summed.c.user_id == stored.c.user_id,
                     summed.c.period == stored.c.period), full=True))
                 .where(score != wanted))]
    # A gain-only window goes on from what it held: x -> x + shift.
    connection.execute(text(
        "INSERT INTO checkpoint_scores (user_id, period, score)"
        " SELECT user_id, period, shift FROM archived_sums"
        " WHERE period IN (:all, :open) AND NOT (user_id = ANY(:losers))"
        " ON CONFLICT (user_id, period) DO UPDATE"
        " SET score = checkpoint_scores.score + excluded.score"),
        {"all": proof.ALL, "open": still_open, "losers": list(losers)})
    return losers, wrong


def _add(connection, changes: list) -> None:
    """checkpoint_scores := each change (user_id, period, floor, shift) applied to it, in
    one statement over a temporary table of the changes."""
    postgres = connection.dialect.name == "postgresql"
    collation = ' COLLATE "C"' if postgres else ""  # checkpoint_scores.user_id's
    connection.execute(text(
        f"CREATE TEMPORARY TABLE checkpoint_changes (user_id varchar(64){collation},"
        " period varchar(16), floor bigint, shift bigint)"))
    for start in range(0, len(changes), CHANGES_AT_ONCE):
        batch = changes[start:start + CHANGES_AT_ONCE]
        if postgres:  # four arrays: one row of parameters, not one a change
            connection.execute(text(
                "INSERT INTO checkpoint_changes SELECT * FROM unnest(CAST(:u AS text[]),"
                " CAST(:p AS text[]), CAST(:f AS bigint[]), CAST(:s AS bigint[]))"),
                dict(zip(("u", "p", "f", "s"), map(list, zip(*batch, strict=True)),
                         strict=True)))
        else:
            connection.execute(text("INSERT INTO checkpoint_changes VALUES (:u, :p, :f, :s)"),
                               [dict(zip(("u", "p", "f", "s"), change, strict=True))
                                for change in batch])
    connection.execute(text("ANALYZE checkpoint_changes"))  # for the join's plan
    connection.execute(text(
        "INSERT INTO checkpoint_scores (user_id, period, score)"
        f" SELECT t.user_id, t.period, {proof.APPLY_SQL} FROM checkpoint_changes t"
        " LEFT JOIN checkpoint_scores c ON c.user_id = t.user_id AND c.period = t.period"
        " WHERE true ON CONFLICT (user_id, period) DO UPDATE SET score = excluded.score"))
    connection.execute(text("DROP TABLE checkpoint_changes"))
