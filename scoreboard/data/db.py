"""The database: Flask-SQLAlchemy and Flask-Migrate, created unbound here and bound to an app
in create_app, and the few ways the service talks to the database beneath the ORM."""

from contextlib import contextmanager

from flask import current_app
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase

from ..core.meters import DB_POOL_IN_USE

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
# The bind (PostgreSQL only) whose engine runs one-statement transactions: db.engines[...],
# and the app's Autocommit of it: app.extensions[...].
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
    bind; ``%(name)s`` parameters), run straight on the driver's cursor (Autocommit.row)."""
    return current_app.extensions[AUTOCOMMIT].row(sql, params)


class Autocommit:
    """The autocommit bind (``engine``), whose every user runs its statements here
    (``row``): the write paths, one statement each, and the board version.

    A statement runs straight on the driver's cursor: it needs none of SQLAlchemy's
    execution layer around it (connection object, execution context, result wrapping),
    which cost more CPU than the driver's call itself (190 µs against 54 µs,
    docs/PERFORMANCE.md). Nor does it pass through the pool each time: a connection goes
    back to a list of idle ones here, and the next statement takes it from there, without
    the pool's checkout and return (its lock and queue, finalizer, reset and events), 3.6 %
    of an update's instructions (docs/PERFORMANCE.md, fourteenth round). They remain the
    pool's, checked out of it and within its bound; and one goes back to it whenever it has
    none left to hand out, so that a statement waiting there does not wait while one is
    idle here. ``DB_POOL_IN_USE`` counts the idle ones as back in the pool.

    A dropped connection is handled as SQLAlchemy handles it for its own statements: the
    error is raised as the same DBAPIError, marked invalidated, and that connection and
    every older one (the pool's and the idle ones here) are retired, so the view's one
    retry (reconnect.py) runs on a new connection.
    """

    def __init__(self, engine):
        self.engine = engine
        self.idle = []
        event.listen(engine, "engine_disposed", self._retire_idle)

    def row(self, sql: str, params: dict) -> tuple | None:
        engine = self.engine
        driver_error = engine.dialect.loaded_dbapi.Error
        pool = engine.pool
        try:
            connection = self._take()
        except driver_error as error:
            # A new connection the server cut while it was being set up reaches here as
            # the driver's own error (the pool does not wrap it): raised as SQLAlchemy
            # raises it for its own connections, so that it is a 503, and a retry when it
            # was a disconnect.
            raise DBAPIError.instance(
                sql, params, error, driver_error,
                connection_invalidated=engine.dialect.is_disconnect(error, None, None)
            ) from error
        cursor = None
        try:
            cursor = connection.cursor()
            cursor.execute(sql, params)
            row = cursor.fetchone()
        except driver_error as error:
            lost = engine.dialect.is_disconnect(error, connection.dbapi_connection, cursor)
            if lost:
                # As SQLAlchemy does for its own statements, through public calls: this
                # connection is discarded, and the older ones with it (a restarted server
                # cut them all), so the retry connects anew.
                connection.invalidate(error)
                engine.dispose()
            self._give(connection, pool)
            raise DBAPIError.instance(sql, params, error, driver_error,
                                      connection_invalidated=lost) from error
        except BaseException:
            # Stopped mid-statement (its greenlet killed): in what state the connection is,
            # only the pool's reset on its return can tell.
            connection.close()
            raise
        self._give(connection, pool)
        return row

    def _take(self):
        if self.idle:
            DB_POOL_IN_USE.inc()
            return self.idle.pop()
        return self.engine.raw_connection()

    def _give(self, connection, pool) -> None:
        """Keep ``connection``, taken when the engine's pool was ``pool``, unless it is
        dead, of a pool since disposed of, or needed by the pool."""
        if (connection.is_valid and pool is self.engine.pool
                and (pool.checkedin() or pool.checkedout() < pool.size())):
            self.idle.append(connection)
            DB_POOL_IN_USE.dec()
        else:
            connection.close()

    def _retire_idle(self, _engine) -> None:
        """The engine made a new pool: close the idle connections, of the old one."""
        while self.idle:
            DB_POOL_IN_USE.inc()  # in use again, until the pool takes it back
            self.idle.pop().invalidate()


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
