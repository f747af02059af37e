"""PostgreSQL databases of a test run's (or a benchmark's) own."""

import importlib.util
import os
from contextlib import contextmanager
from pathlib import Path

import psycopg2
from psycopg2.extensions import STATUS_READY

ADMIN_DB_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations" / "versions"


def newest_migration_with(name: str):
    """The latest migration module that defines ``name``: a text it holds, rendered from
    the code when it was written, which the code must still render."""
    for path in sorted(MIGRATIONS.glob("[0-9]*.py"), reverse=True):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if hasattr(module, name):
            return module
    raise AssertionError(f"no migration defines {name}")


def _admin(statement: str) -> None:
    admin = psycopg2.connect(ADMIN_DB_URL, connect_timeout=3)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(statement)
    finally:
        admin.close()


def create_database(name: str, template: str | None = None, durable: bool = True) -> str:
    """A new PostgreSQL database (an old one of that name is dropped), empty or a copy of
    the database ``template`` (which no one may be connected to); its URL.

    Not ``durable`` (a test's): its commits return before their WAL is flushed to disk
    (synchronous_commit off, for this database's sessions only), a few milliseconds less
    each. What every session sees is the same; only a crash of the server could lose the
    last commits, and no test outlives one. A benchmark's database stays durable."""
    drop_database(name)
    _admin(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
    if not durable:
        _admin(f"ALTER DATABASE {name} SET synchronous_commit = off")
    return ADMIN_DB_URL.rsplit("/", 1)[0] + "/" + name


def drop_database(name: str) -> None:
    _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def lock_waits(database_url) -> int:
    """How many sessions of this database are waiting on a lock right now."""
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'")
        (count,) = cur.fetchone()
    conn.close()
    return count


def counting_round_trips(sent: list) -> dict:
    """Engine options (SQLALCHEMY_ENGINE_OPTIONS) whose psycopg2 connections note in ``sent``
    each round trip they make to the server: every statement, including those run straight
    on the driver's cursor (db.autocommit_row), which SQLAlchemy's events never see, and
    the BEGIN, COMMIT and ROLLBACK psycopg2 sends around a transaction's statements."""

    def opening(connection) -> None:
        if not connection.autocommit and connection.status == STATUS_READY:
            sent.append("BEGIN")

    class Cursor(psycopg2.extensions.cursor):
        def execute(self, query, vars=None):
            opening(self.connection)
            sent.append(query)
            return super().execute(query, vars)

        def executemany(self, query, vars_list):
            opening(self.connection)
            sent.append(query)
            return super().executemany(query, vars_list)

    class Connection(psycopg2.extensions.connection):
        def cursor(self, *args, **kwargs):
            kwargs.setdefault("cursor_factory", Cursor)
            return super().cursor(*args, **kwargs)

        def commit(self):
            if self.status != STATUS_READY:
                sent.append("COMMIT")
            return super().commit()

        def rollback(self):
            if self.status != STATUS_READY:
                sent.append("ROLLBACK")
            return super().rollback()

    return {"connect_args": {"connection_factory": Connection}}


@contextmanager
def holding(database_url, sql: str, *params):
    """Run ``sql`` (a SELECT ... FOR UPDATE, say) in a transaction of its own connection and
    hold its locks until the block ends, whatever happens: to stall another session at a
    point of its choosing."""
    conn = psycopg2.connect(database_url)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
        yield
    finally:
        conn.rollback()
        conn.close()
