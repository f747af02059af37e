"""The proof of every score (`flask scoreboard verify`): each player's all-time and window
scores recomputed from the audit log, and compared with what the tables hold.

Once part of the log is archived (archive.py), the newest checkpoint stands for it: each
player's all-time score as of its boundary, which the archived events added up to, and their
score in the one window still open then (the week the boundary falls in, unless it is a
Monday). A score is then its checkpoint plus the events from the boundary on, exactly. A
window that closed by the boundary has its final score: the archive that took its last
events checked it against them, and verify no longer reads it. Events before the boundary
that are in the table again (restore) are already in the checkpoint, and are not counted
twice. ``since`` checks only the players with events from the boundary on, and their
windows that close after it: on PostgreSQL the database compares those who only gained
points (sums.py) and sends back only the differences; the others are read by key. Its cost
follows the recent events, not the history, while the whole check reads every player and
window into this process.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import func, or_, select

from ..boards import ranks
from ..core import periods
from ..data.db import db, on_postgres, unbounded
from ..data.models import AuditEvent, Checkpoint, CheckpointScore, User, WindowScore
from . import moderation, sums
from .sums import ALL, windows_between

# Players looked up at a time by ``since``.
CHUNK = 5000
# The temporary table of the events after the checkpoint (sums.py), for ``since``.
RECENT = "recent_sums"


def apply(change: tuple, score: int) -> int:
    """A (floor, shift) change (Tally) applied to a score held before it."""
    floor, shift = change
    return score + shift if floor is None else max(floor, score + shift)


# The same, in SQL, for archive.py's checkpoint (``t``: the change, ``c``: the score).
APPLY_SQL = ("CASE WHEN t.floor IS NULL OR COALESCE(c.score, 0) + t.shift > t.floor"
             " THEN COALESCE(c.score, 0) + t.shift ELSE t.floor END")


class Tally:
    """What scored events, in the order of their ids, do to each player's scores. The
    all-time score adds up their deltas. A window stops at 0 when an adjustment takes
    back more than it holds (moderation.adjust), so its events compose to a change
    ``x -> max(floor, x + shift)`` of whatever the window held before them, known
    without it: a checkpoint's window goes on from there."""

    def __init__(self):
        self.totals = Counter()
        self.windows = {}  # (period, user_id) -> (floor, shift); floor None: no stop yet

    def add(self, user_id: str, at: datetime, delta: int) -> None:
        self.totals[user_id] += delta
        for period in periods.windows_of(at):
            floor, shift = self.windows.get((period, user_id), (None, 0))
            floor = 0 if floor is None else max(0, floor + delta)
            self.windows[period, user_id] = (floor, shift + delta)

    def changes(self):
        """(user_id, period, floor, shift) of every score the events change."""
        for user_id, total in self.totals.items():
            yield user_id, ALL, None, total
        for (period, user_id), (floor, shift) in self.windows.items():
            yield user_id, period, floor, shift

    def forget(self, players: set) -> None:
        """Take back what was added of these players."""
        if players:
            for user_id in players:
                self.totals.pop(user_id, None)
            self.windows = {key: change for key, change in self.windows.items()
                            if key[1] not in players}


@dataclass
class Report:
    wrong: list = field(default_factory=list)
    players: int = 0
    windows: int = 0
    boundary: datetime | None = None
    refused_rows: int = 0
    refused_attempts: int = 0


def latest_boundary(connection=None) -> datetime | None:
    """Where the newest checkpoint stands: the log before it is summed up there."""
    return (connection or db.session).scalar(select(func.max(Checkpoint.boundary)))


def tally_of(connection, since: datetime | None, until: datetime | None = None,
             players: list | None = None) -> Tally:
    """The scored events from ``since`` until ``until`` (None: without a bound), of
    ``players`` (None: every player), added up
    by the database a player and a day at a time: a run of gains adds up to the same as
    their sum gained at once. A player who lost points in the range (an adjustment, which a
    window may stop at 0) is added event by event, in order, instead.

    One scan of the range: on PostgreSQL its bounds leave out every partition outside it,
    and no subquery is repeated in each partition's scan (the players who lost points are
    found by the scan itself)."""
    where = [AuditEvent.outcome.in_(moderation.SCORED)]
    where += [AuditEvent.at >= since] if since is not None else []
    where += [AuditEvent.at < until] if until is not None else []
    where += [AuditEvent.user_id.in_(players)] if players is not None else []
    day = func.date(AuditEvent.at)
    tally, losers = Tally(), set()
    for user_id, on, total, lowest in connection.execute(
            select(AuditEvent.user_id, day, func.sum(AuditEvent.delta),
                   func.min(AuditEvent.delta))
            .where(*where).group_by(AuditEvent.user_id, day)
            .execution_options(yield_per=10000)):
        if lowest < 0:
            losers.add(user_id)
        elif user_id not in losers:
            on = on if isinstance(on, date) else date.fromisoformat(on)  # SQLite: text
            tally.add(user_id, datetime(on.year, on.month, on.day), total)
    tally.forget(losers)
    ordered = sorted(losers)
    for start in range(0, len(ordered), CHUNK):
        for user_id, at, delta in connection.execute(
                select(AuditEvent.user_id, AuditEvent.at, AuditEvent.delta)
                .where(*where, AuditEvent.user_id.in_(ordered[start:start + CHUNK]))
                .order_by(AuditEvent.id)):
            tally.add(user_id, at, delta)
    return tally


def closing_differences(connection, tally: Tally, held: dict, since: datetime | None,
                        until: datetime, players: list | None = None) -> list[str]:
    """The windows that close after ``since`` and by ``until`` whose scores differ from
    what the events between them (``tally``) made of the checkpoint's ``held`` ones
    ((period, user_id) -> score), of ``players`` (None: every player): checkpoint.py checks
    them before they leave the log, as they are final from then on. The week ``until``
    falls in (if not its Monday) is still open: it stays in the checkpoint."""
    still_open = periods.week_key(until)
    expected = {key: score for key, score in held.items() if key[0] != still_open}
    for key, change in tally.windows.items():
        if key[0] != still_open:
            expected[key] = apply(change, expected.get(key, 0))
    stored = {(period, user_id): score for period, user_id, score in connection.execute(
        select(WindowScore.period, WindowScore.user_id, WindowScore.score)
        .where(windows_between(WindowScore.period, since, until),
               *([WindowScore.user_id.in_(players)] if players is not None else []))
        .execution_options(yield_per=10000))}
    return [difference(*found) for found in _differences(stored, expected)]


def difference(what: str, score: int, expected: int) -> str:
    """How a score that differs from its events is reported: ``what`` is a player's id,
    or a window's name (``window``)."""
    return f"{what}: score {score}, audit log says {expected}"


def window(user_id: str, period: str) -> str:
    return f"{user_id} in {period}"


def verify(since: bool = False) -> Report:
    """Every difference between the scores held and the checkpoint plus the log after it
    (``since``: only where there are events after it), and the rank sets' own."""
    unbounded(db.session.connection())
    report = Report(boundary=latest_boundary())
    if since:
        _check_recent(report)
    else:
        _compare_all(tally_of(db.session, report.boundary), report)
        report.wrong += [f"rank set {view}: differs from the database (run rebuild-cache)"
                         for view in ranks.disagreeing_sets()]
    refused = select(func.count(), func.coalesce(func.sum(AuditEvent.count), 0)).where(
        AuditEvent.outcome.in_(moderation.REFUSED))
    if report.boundary is not None:
        refused = refused.where(AuditEvent.at >= report.boundary)
    report.refused_rows, report.refused_attempts = db.session.execute(refused).one()
    db.session.rollback()
    return report


def _compare_all(tally: Tally, report: Report) -> None:
    """Every player, and every window still open at the checkpoint's boundary: those that
    closed by then were checked when their events were archived (archive.py)."""
    boundary = report.boundary
    held = {(period, user_id): score for user_id, period, score in db.session.execute(
        select(CheckpointScore.user_id, CheckpointScore.period, CheckpointScore.score)
        .where(or_(CheckpointScore.period == ALL,
                   windows_between(CheckpointScore.period, boundary, None))))}
    stored = dict(db.session.execute(select(User.id, User.score)).all())
    stored_windows = {(period, user_id): score for period, user_id, score in db.session.execute(
        select(WindowScore.period, WindowScore.user_id, WindowScore.score)
        .where(windows_between(WindowScore.period, boundary, None)))}
    report.players, report.windows = len(stored), len(stored_windows)
    _expect(report, stored, stored_windows, tally, held)
    report.wrong += [_moved(user_id, period) for period, user_id in db.session.execute(
        select(WindowScore.period, WindowScore.user_id)
        .join(User, User.id == WindowScore.user_id)
        .where(WindowScore.region.is_distinct_from(User.region)))]


def _check_recent(report: Report) -> None:
    """The players with events after the checkpoint, and their windows that close after
    it. On PostgreSQL the database compares those who only gained points (sums.py): a
    year of them held here was gigabytes. The others are added up here."""
    if on_postgres():
        players = sums.add_up(db.session, RECENT, report.boundary, None)
        found = sums.recent_differences(db.session, RECENT, report.boundary)
        report.players, report.windows = found.players, found.windows
        report.wrong += sorted(
            [difference(*score) for score in found.scores]
            + [difference(window(user_id, period), *scores)
               for user_id, period, *scores in found.differ])
        report.wrong += [_moved(user_id, period) for user_id, period in found.moved]
        tally = tally_of(db.session, report.boundary, players=players) if players else Tally()
    else:
        tally = tally_of(db.session, report.boundary)
        players = sorted(tally.totals)
    _compare_recent(tally, players, report)


def _moved(user_id: str, period: str) -> str:
    return f"region of {user_id} in {period}: the window's copy differs from the player's"


def _compare_recent(tally: Tally, players: list, report: Report) -> None:
    """These players (``tally``: their events after the checkpoint), by key: users by id,
    their checkpoint rows by player, their windows that close after it by player."""
    boundary = report.boundary
    windows_of = defaultdict(dict)
    for (period, user_id), change in tally.windows.items():
        windows_of[user_id][period, user_id] = change
    for start in range(0, len(players), CHUNK):
        chunk = players[start:start + CHUNK]
        held = {(period, user_id): score for user_id, period, score in db.session.execute(
            select(CheckpointScore.user_id, CheckpointScore.period, CheckpointScore.score)
            .where(CheckpointScore.user_id.in_(chunk),
                   or_(CheckpointScore.period == ALL,
                       windows_between(CheckpointScore.period, boundary, None))))}
        stored = dict(db.session.execute(
            select(User.id, User.score).where(User.id.in_(chunk))).all())
        windows = db.session.execute(
            select(WindowScore.period, WindowScore.user_id, WindowScore.score,
                   WindowScore.region.is_distinct_from(User.region))
            .join(User, User.id == WindowScore.user_id)
            .where(windows_between(WindowScore.period, boundary, None),
                   WindowScore.user_id.in_(chunk))).all()
        stored_windows = {(period, user_id): score for period, user_id, score, _ in windows}
        part = Tally()
        part.totals = Counter({user_id: tally.totals[user_id] for user_id in chunk})
        for user_id in chunk:
            part.windows.update(windows_of[user_id])
        report.players += len(stored)
        report.windows += len(stored_windows)
        _expect(report, stored, stored_windows, part, held)
        report.wrong += [_moved(user_id, period) for period, user_id, _, moved in windows
                         if moved]


def _expect(report: Report, stored: dict, stored_windows: dict, tally: Tally,
            held: dict) -> None:
    totals = Counter({user_id: score for (period, user_id), score in held.items()
                      if period == ALL})
    totals.update(tally.totals)
    windows = {key: score for key, score in held.items() if key[0] != ALL}
    for key, change in tally.windows.items():
        windows[key] = apply(change, windows.get(key, 0))
    report.wrong += [difference(*found) for found in _differences(stored, totals)
                     + _differences(stored_windows, windows)]


def _differences(stored: dict, expected: dict) -> list:
    def name(key):
        return key if isinstance(key, str) else window(key[1], key[0])

    return sorted(
        (name(key), stored.get(key, 0), expected.get(key, 0))
        for key in stored.keys() | expected.keys()
        if stored.get(key, 0) != expected.get(key, 0)
    )
