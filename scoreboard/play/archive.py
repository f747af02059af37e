"""Archiving the audit log while keeping its proof: `flask scoreboard archive` and
`restore`, and the upkeep's retention (AUDIT_RETENTION_DAYS).

An archive takes every event before a boundary, a UTC midnight no later than today's: on
PostgreSQL every whole day partition (or the partition of the past) that ends by then,
whose rows no play writes any more; on SQLite, whose tables are plain, the rows before it.
In one transaction, it adds them up into the checkpoint (proof.py), writes them to a new
file (data/archive_file.py), synced to the disk, and removes them: the partitions are
detached and dropped, or the rows deleted. The checkpoint keeps each player's all-time
score and the score of the week still open at the boundary; the windows that close by then
are final, so they are checked against their events here, once, and the archive is refused
while one differs (its proof would leave with them). A failure before that commit leaves the
events where they were and no checkpoint of them; the file, whole or not under its name,
stands for nothing, and a run again (to another file) does it all. The partitions are read
under a SHARE lock, which lets no write in until the commit, so nothing is dropped that
the file lacks. The transaction is not bound by a request's statement timeout (a month of
events takes longer). On SQLite the checkpoint's row is written first: that takes the
database's write lock for the same end. One archive at a time: on PostgreSQL it holds the upkeep's
advisory lock (data/partitions.py), with which maintain also adds and drops partitions.

The checkpoint sums up every event before its boundary. The events of an archive restored
for an investigation come back into the table (a day partition of their own, made again,
or the default one) and the checkpoint stays as it is: verify reads the log from the
boundary on, so it counts them once. Archived again, they add nothing to the checkpoint.
"""

import os
import random
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import OperationalError

from ..core import clock, periods
from ..data import archive_file, partitions
from ..data.db import db, on_postgres, unbounded
from ..data.models import AuditEvent, Checkpoint
from . import checkpoint, proof

TABLE = AuditEvent.__tablename__
# Tries at a lock (each waits partitions.LOCK_WAIT at most) before giving up for now.
LOCK_TRIES = 50
BUSY = ("another instance is maintaining or archiving the audit log's partitions: "
        "nothing done; run it again")
COLUMNS = ", ".join(archive_file.COLUMNS)


class Refused(Exception):
    """An archive or restore that was not done, and why."""


class NothingToArchive(Refused):
    """No whole partition, or no row, before the boundary."""


@dataclass(frozen=True)
class Archived:
    path: str
    since: datetime | None
    boundary: datetime
    rows: int
    dropped: tuple = ()  # the partitions dropped (PostgreSQL)


def archive(before: date, path: str) -> Archived:
    """Archive the events before the midnight that starts ``before`` to the new file
    ``path``, and sum them up into the checkpoint."""
    now = clock.now()
    boundary = datetime(before.year, before.month, before.day)
    today = periods.day_start(now)
    if boundary > today:
        raise Refused(f"--before {before} would take events of today or later, and today's "
                      f"partition is being written: {today:%Y-%m-%d} is the latest")
    if os.path.exists(path):
        raise Refused(f"{path} exists: an archive is never written over")
    db.session.rollback()
    if not on_postgres():
        return _archive_rows(boundary, path, now)
    with partitions.cluster_lock(db.engine) as connection:
        if connection is None:
            raise Refused(BUSY)
        return _archive_partitions(connection, boundary, path, now)


def retain(now: datetime, connection=None) -> list[str]:
    """The upkeep's part: archive what is older than AUDIT_RETENTION_DAYS to a new file in
    AUDIT_ARCHIVE_DIR, if the setting is set; on PostgreSQL ``connection`` holds the
    upkeep's lock. What was done, a line each."""
    config = current_app.config
    if config["AUDIT_RETENTION_DAYS"] is None:
        return []
    boundary = periods.day_start(now) - timedelta(days=config["AUDIT_RETENTION_DAYS"])
    os.makedirs(config["AUDIT_ARCHIVE_DIR"], exist_ok=True)
    path = os.path.join(config["AUDIT_ARCHIVE_DIR"],
                        f"audit-before-{boundary:%Y%m%d}-made-{now:%Y%m%dT%H%M%S}.jsonl.gz")
    try:
        made = (_archive_rows(boundary, path, now) if connection is None else
                _archive_partitions(connection, boundary, path, now))
    except NothingToArchive:
        return []
    except Refused as refused:
        return [f"audit retention: {refused}"]
    return [describe(made)]


def describe(made: Archived) -> str:
    since = f"{made.since:%Y-%m-%d}" if made.since else "the first event"
    what = f"dropped {', '.join(made.dropped)}" if made.dropped else "deleted them"
    return (f"archived {made.rows} audit events from {since} to {made.boundary:%Y-%m-%d} "
            f"into {made.path}, checkpoint recorded, {what}")


def _archive_partitions(connection, boundary: datetime, path: str, now: datetime):
    _days_out_of_default(connection, boundary)
    found = [p for p in partitions.partitions(connection, TABLE) if p.end is not None]
    for p in found:
        if p.end > boundary and (p.start is None or p.start < boundary):
            raise NothingToArchive(
                f"{p.name} holds events from before {boundary:%Y-%m-%d} until {p.end:%Y-%m-%d}"
                f", and only whole partitions are archived: --before {p.end:%Y-%m-%d} or later")
    chosen = [p for p in found if p.end <= boundary]
    if not chosen:
        raise NothingToArchive(f"no audit partition ends by {boundary:%Y-%m-%d}")
    names = tuple(p.name for p in chosen)
    since = None if any(p.start is None for p in chosen) else min(p.start for p in chosen)
    try:
        unbounded(connection)
        _locked(connection, f"LOCK TABLE {', '.join(names)} IN SHARE MODE")
        source = " UNION ALL ".join(f"SELECT {COLUMNS} FROM {name}" for name in names)
        rows = connection.scalar(text(f"SELECT count(*) FROM ({source}) e"))
        # PostgreSQL writes each line (row_to_json), sent by COPY (archive_file.copy_lines).
        # In the partitions' order: a sort by id would cost more than all the rest.
        lines = f"SELECT row_to_json(e)::text FROM ({source}) e"
        _write_and_sum_up(connection, lambda out: archive_file.copy_lines(
            out, connection, lines),
                          archive_file.header(since, boundary, rows), path,
                          proof.latest_boundary(connection), boundary)
        connection.execute(insert(Checkpoint).values(
            boundary=boundary, since=since, rows=rows, archive=_name(path), made_at=now))
        for name in names:
            _locked(connection, f"ALTER TABLE {TABLE} DETACH PARTITION {name}")
            connection.execute(text(f"DROP TABLE {name}"))
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    return Archived(path, since, boundary, rows, names)


def _days_out_of_default(connection, boundary: datetime) -> None:
    """Rows of past days no partition covered (the upkeep was away) go to day partitions
    of their own, so that everything before the boundary is in whole partitions."""
    days = connection.scalars(text(
        f"SELECT DISTINCT CAST(at AS date) FROM {TABLE}_default WHERE at < :boundary"),
        {"boundary": boundary}).all()
    connection.commit()
    for day in days:
        if partitions.add_day(connection, TABLE, day) is None:
            raise Refused(f"{TABLE}_default holds events of {day} and was busy: run it again")


def _archive_rows(boundary: datetime, path: str, now: datetime) -> Archived:
    connection = db.session.connection()
    before = AuditEvent.at < boundary
    previous = proof.latest_boundary(connection)
    try:
        # Written first: it takes SQLite's write lock, so no event comes in meanwhile.
        checkpoint = connection.execute(insert(Checkpoint).values(
            boundary=boundary, rows=0, archive=_name(path), made_at=now)).inserted_primary_key[0]
        rows = connection.scalar(select(func.count()).where(before))
        if not rows:
            raise NothingToArchive(f"no audit event before {boundary:%Y-%m-%d}")
        events = select(*AuditEvent.__table__.columns).where(before).order_by(AuditEvent.id)
        _write_and_sum_up(connection, lambda out: archive_file.write_rows(
            out, connection.execute(events)),
                          archive_file.header(None, boundary, rows), path, previous, boundary)
        connection.execute(Checkpoint.__table__.update().where(
            Checkpoint.id == checkpoint).values(rows=rows))
        connection.execute(AuditEvent.__table__.delete().where(before))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return Archived(path, None, boundary, rows)


def _write_and_sum_up(connection, fill, head: dict, path: str, previous, boundary) -> None:
    """Add the events from ``previous``, the newest checkpoint's boundary, on to the
    checkpoint, and write the events to ``path`` (``fill(out)`` writes their lines)."""
    # Not after the boundary: restored events, which the checkpoint sums up already.
    later = previous is None or boundary > previous
    wrong = checkpoint.carry_on(connection, previous, boundary) if later else []
    if wrong:
        raise Refused(f"{len(wrong)} scores of windows that close by {boundary:%Y-%m-%d} differ"
                      f" from their events, which would leave the log: {'; '.join(wrong[:5])}"
                      "; nothing done (flask scoreboard verify lists them)")
    try:
        archive_file.write(path, head, fill)
    except FileExistsError:
        raise Refused(f"{path} exists: an archive is never written over") from None


def _locked(connection, statement: str) -> None:
    """Run ``statement``, whose lock is waited for briefly a try, so that plays never
    queue long behind it, until it gets it; Refused after LOCK_TRIES."""
    connection.execute(text(f"SET LOCAL lock_timeout = '{partitions.LOCK_WAIT}'"))
    for _ in range(LOCK_TRIES):
        savepoint = connection.begin_nested()
        try:
            connection.execute(text(statement))
        except OperationalError as error:
            savepoint.rollback()
            if getattr(error.orig, "pgcode", None) != "55P03":  # lock_not_available
                raise
            time.sleep(random.uniform(0, 0.2))
            continue
        savepoint.commit()
        return
    raise Refused(f"{TABLE} stayed busy ({statement}): nothing done; run it again")


def _name(path: str) -> str:
    return os.path.abspath(path)[-255:]
