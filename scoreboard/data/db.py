"""The database: Flask-SQLAlchemy and Flask-Migrate, created unbound here and bound to an app
in create_app, and the few ways the service talks to the database beneath the ORM."""

from contextlib import contextmanager

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase

# Named constraints keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
# The bind (PostgreSQL only) whose engine runs one-statement transactions: db.engines[...].
AUTOCOMMIT = "autocommit"


def on_postgres() -> bool:
    """PostgreSQL (one round trip per write, the autocommit bind), or the embedded SQLite."""
    return db.engine.dialect.name == "postgresql"


def dialect_insert(model, values: dict):
    """INSERT in the current database's dialect, for its ON CONFLICT clauses."""
    insert = pg_insert if on_postgres() else sqlite_insert
    return insert(model).values(values)


def insert_ignoring_duplicates(model, values: dict):
    """INSERT ... ON CONFLICT DO NOTHING in the current database's dialect."""
    return dialect_insert(model, values).on_conflict_do_nothing()


def autocommit_row(sql: str, params: dict) -> tuple | None:
    """The first row of one statement that is its own transaction (PostgreSQL's autocommit
    bind; ``%(name)s`` parameters), run straight on the driver's cursor.

    The write paths are one such statement each, and need none of SQLAlchemy's execution
    layer around it (connection object, execution context, result wrapping), which cost
    more CPU than the driver's call itself (190 µs against 54 µs, docs/PERFORMANCE.md).
    Its handling of a dropped connection is kept: the error is raised as the same
    DBAPIError, marked invalidated, and that connection and every older one in the pool are
    retired, so the view's one retry (reconnect.py) runs on a new connection.
    """
    engine = db.engines[AUTOCOMMIT]
    driver_error = engine.dialect.loaded_dbapi.Error
    try:
        connection = engine.raw_connection()
    except driver_error as error:
        # A new connection the server cut while it was being set up reaches here as the
        # driver's own error (the pool does not wrap it): raised as SQLAlchemy raises it for
        # its own connections, so that it is a 503, and a retry when it was a disconnect.
        raise DBAPIError.instance(
            sql, params, error, driver_error,
            connection_invalidated=engine.dialect.is_disconnect(error, None, None)) from error
    cursor = None
    try:
        cursor = connection.cursor()
        cursor.execute(sql, params)
        return cursor.fetchone()
    except driver_error as error:
        lost = engine.dialect.is_disconnect(error, connection.dbapi_connection, cursor)
        if lost:
            # As SQLAlchemy does for its own statements, through public calls: this
            # connection is discarded, and the pool's older ones with it (a restarted
            # server cut them all), so the retry connects anew.
            connection.invalidate(error)
            engine.dispose()
        raise DBAPIError.instance(sql, params, error, driver_error,
                                  connection_invalidated=lost) from error
    finally:
        connection.close()


@contextmanager
def reading():
    """Reads whose transaction ends with the block, whatever happens: no pooled connection
    stays idle in a transaction (an open stream holds none). Take what is needed from ORM
    objects inside it: the end of the transaction expires them."""
    try:
        yield db.session
    finally:
        db.session.rollback()


def unbounded(connection) -> None:
    """Lift, for the rest of ``connection``'s transaction only, what bounds a request:
    the statement timeout (DATABASE_STATEMENT_TIMEOUT_MS, set on every connection), which
    an admin command over a year of the log runs longer than, and JIT, which PostgreSQL
    would spend seconds on compiling a statement over hundreds of partitions. SET LOCAL
    ends with the transaction, so a pooled connection goes back as it came."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SET LOCAL statement_timeout = 0"))
        connection.execute(text("SET LOCAL jit = off"))


migrate = Migrate()
