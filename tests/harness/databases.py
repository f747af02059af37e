"""PostgreSQL databases of a test run's (or a benchmark's) own."""

import os

import psycopg2

ADMIN_DB_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _admin(statement: str) -> None:
    admin = psycopg2.connect(ADMIN_DB_URL, connect_timeout=3)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(statement)
    finally:
        admin.close()


def create_database(name: str) -> str:
    """A new, empty PostgreSQL database (an old one of that name is dropped); its URL."""
    drop_database(name)
    _admin(f"CREATE DATABASE {name}")
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
