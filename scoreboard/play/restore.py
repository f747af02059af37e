"""`flask scoreboard restore`: an archive's events back in the audit log, for an
investigation. The checkpoint already sums them up and stays as it is (archive.py), so
verify, which reads the log from the checkpoint's boundary on, holds after it. Each day of
the archive gets its day partition again on PostgreSQL, where it has none."""

from dataclasses import dataclass

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..data import archive_file, partitions
from ..data.db import db, on_postgres, unbounded
from ..data.models import AuditEvent
from . import proof
from .archive import BUSY, TABLE, Refused


@dataclass(frozen=True)
class Restored:
    path: str
    rows: int
    added: int
    partitions: tuple


def restore(path: str) -> Restored:
    """Load the archive ``path`` back into audit_events, for an investigation. Its events
    must be ones a checkpoint sums up; those already in the table are left as they are."""
    try:
        head, events = archive_file.read(path)
    except (OSError, archive_file.BadArchive) as error:
        raise Refused(str(error)) from None
    db.session.rollback()
    latest = proof.latest_boundary()
    if latest is None or head["to"] > latest:
        raise Refused(
            f"{path} holds events until {head['to']:%Y-%m-%d}, which no checkpoint sums up: "
            "an archive that did not finish leaves its events in the table")
    if not on_postgres():
        added = _insert(db.session.connection(), sqlite_insert, events)
        db.session.commit()
        return Restored(path, head["rows"], added, ())
    with partitions.cluster_lock(db.engine) as connection:
        if connection is None:
            raise Refused(BUSY)
        made = _days_for(connection, path)
        unbounded(connection)  # a month of events takes longer than a request may
        added = _insert(connection, pg_insert, events)
        connection.commit()
    return Restored(path, head["rows"], added, made)


def _days_for(connection, path: str) -> tuple:
    """A day partition again for each day of the archive that has none (a day whose
    partition stayed busy keeps its events in the default partition)."""
    days = sorted({event["at"].date() for event in archive_file.read(path)[1]})
    existing = partitions.partitions(connection, TABLE)
    made = []
    for day in days:
        if not any(p.covers(day) for p in existing):
            name = partitions.add_day(connection, TABLE, day)
            made += [name] if name else []
    return tuple(made)


def _insert(connection, dialect_insert, events) -> int:
    """Insert the events, skipping any the table holds; how many were added."""
    statement = dialect_insert(AuditEvent.__table__).on_conflict_do_nothing().returning(
        AuditEvent.id)
    added, batch = 0, []
    for event in events:
        batch.append(event)
        if len(batch) == archive_file.BATCH:
            added += len(connection.execute(statement, batch).all())
            batch = []
    if batch:
        added += len(connection.execute(statement, batch).all())
    return added
