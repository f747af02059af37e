"""The day partitions of the two tables that grow with every play (PostgreSQL, migration
0016): what there is, adding the days to come, dropping days past their use.

Each table has the partition of everything before 0016 (``<table>_history``, from
MINVALUE), a partition a UTC day (``<table>_pYYYYMMDD``) and a DEFAULT one for rows no day
covers yet. A day is added as a table of its own and then ATTACHed, which takes only a SHARE
UPDATE EXCLUSIVE lock on the parent (CREATE TABLE ... PARTITION OF would take an exclusive
one): plays go on. The default partition is locked exclusively for the moment its rows of
that day (normally none) move out, and a day of tickets takes users' and action_types'
SHARE ROW EXCLUSIVE lock for the moment of its ATTACH (it gets their foreign keys), which
holds score updates back that long. Dropping a day locks the parent exclusively for the
moment of the DROP. Both wait at most ``LOCK_WAIT``, so that writers never queue long
behind them; an operation that did not get its lock is left for the next run.

Every caller holds ``cluster_lock`` for the whole run: one instance at a time does this.
"""

import re
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.exc import OperationalError

# The partitioned tables and their partition keys.
PARTITIONED = {"audit_events": "at", "action_tickets": "created_at"}
# Any lock the operations take is waited for this long at most.
LOCK_WAIT = "200ms"
# pg_try_advisory_lock's key for the partitions' upkeep: one instance at a time.
CLUSTER_LOCK = 0x5C0BE_0016

_PARTITION = re.compile(rf"^({'|'.join(PARTITIONED)})_(history|default|p\d{{8}})$")
_BOUNDS = re.compile(r"FROM \((MINVALUE|'[^']*')\) TO \('([^']*)'\)")


def is_partition(name: str) -> bool:
    """Whether a table of this name is a partition of a partitioned table."""
    return _PARTITION.match(name) is not None


@dataclass(frozen=True)
class Partition:
    name: str
    start: datetime | None  # None: from MINVALUE, or the default partition
    end: datetime | None  # None: the default partition

    def covers(self, day: date) -> bool:
        begin = datetime(day.year, day.month, day.day)
        return self.end is not None and begin < self.end and (
            self.start is None or begin + timedelta(days=1) > self.start)


def partitions(connection, table: str) -> list[Partition]:
    """The partitions of ``table``, from its catalog entries."""
    rows = connection.execute(text(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i"
        " JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = CAST(:t AS regclass)"
        " ORDER BY c.relname"), {"t": table}).all()
    found = []
    for name, bound in rows:
        match = _BOUNDS.search(bound)
        if match is None:  # DEFAULT
            found.append(Partition(name, None, None))
            continue
        start = None if match[1] == "MINVALUE" else datetime.fromisoformat(match[1].strip("'"))
        found.append(Partition(name, start, datetime.fromisoformat(match[2])))
    return found


@contextmanager
def cluster_lock(engine):
    """A connection holding the upkeep's advisory lock, or None when another instance
    holds it. A session-level lock, as each operation commits on its own."""
    with engine.connect() as connection:
        taken = connection.execute(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": CLUSTER_LOCK}).scalar()
        connection.commit()
        try:
            yield connection if taken else None
        finally:
            if taken:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"),
                                   {"key": CLUSTER_LOCK})
                connection.commit()


def add_day(connection, table: str, day: date) -> str | None:
    """Give ``day`` a partition of ``table``, moving its rows out of the default partition;
    its name, or None when a lock was not granted in time."""
    key, name = PARTITIONED[table], f"{table}_p{day:%Y%m%d}"
    start = datetime(day.year, day.month, day.day)
    bounds = {"start": start, "end": start + timedelta(days=1)}
    with _briefly(connection) as done:
        connection.execute(text(f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS)"))
        if any(p.end is None for p in partitions(connection, table)):
            connection.execute(text(f"LOCK TABLE {table}_default IN ACCESS EXCLUSIVE MODE"))
            connection.execute(text(
                f"WITH moved AS (DELETE FROM {table}_default WHERE {key} >= :start"
                f" AND {key} < :end RETURNING *) INSERT INTO {name} SELECT * FROM moved"),
                bounds)
        connection.execute(text(
            f"ALTER TABLE {table} ATTACH PARTITION {name}"
            f" FOR VALUES FROM ('{bounds['start']}') TO ('{bounds['end']}')"))
    return name if done else None


def drop(connection, partition: Partition) -> bool:
    """Drop a partition and its rows; False when a lock was not granted in time."""
    with _briefly(connection) as done:
        connection.execute(text(f"DROP TABLE {partition.name}"))
    return bool(done)


@contextmanager
def _briefly(connection):
    """One transaction whose locks are waited for LOCK_WAIT at most; the list it yields
    holds True once it has committed."""
    done = []
    try:
        connection.execute(text(f"SET LOCAL lock_timeout = '{LOCK_WAIT}'"))
        yield done
        connection.commit()
        done.append(True)
    except OperationalError as error:
        connection.rollback()
        if getattr(error.orig, "pgcode", None) != "55P03":  # lock_not_available
            raise


def include_name(name: str, type_: str, parent_names) -> bool:
    """Alembic's filter of reflected names: a partition is its parent's, not a table of the
    models (autogenerate would drop it)."""
    return not (type_ == "table" and is_partition(name))
