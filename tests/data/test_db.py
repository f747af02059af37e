"""The write paths' one statement on the driver's own cursor (data/db.py autocommit_row):
whatever the driver raises reaches the request as SQLAlchemy's error, which the service
answers with 503, and retries once when the connection was lost. Its connections wait
between statements beside the pool rather than in it (data/db.py Autocommit)."""

import socket
import struct
import threading

import gevent
import psycopg2
import pytest
from psycogreen.gevent import patch_psycopg
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from scoreboard import create_app
from scoreboard.data.db import AUTOCOMMIT, autocommit_row, db

from ..conftest import base_config
from ..harness.databases import ADMIN_DB_URL
from ..harness.servers import sample_sum
from ..harness.waiting import wait_for

BACKEND = "SELECT pg_backend_pid()"

# What a PostgreSQL server reports once it has let a client in (libpq and psycopg2 read these).
PARAMETERS = {"server_version": "16.0", "server_encoding": "UTF8", "client_encoding": "UTF8",
              "standard_conforming_strings": "on", "integer_datetimes": "on",
              "DateStyle": "ISO, MDY"}
ENCRYPTION_REQUESTS = (80877103, 80877104)  # SSLRequest, GSSENCRequest: answered "no"


def _let_in_then_hang_up(connection) -> None:
    """Speak enough of PostgreSQL's protocol to let the client in without a password, then
    close the connection at the client's first query, as a server cutting a new
    connection during its set-up does (SQLAlchemy's first queries on it)."""
    while True:
        length, code = struct.unpack("!ii", connection.recv(8, socket.MSG_WAITALL))
        if code not in ENCRYPTION_REQUESTS:
            break
        connection.sendall(b"N")
    connection.recv(length - 8, socket.MSG_WAITALL)  # the rest of the startup message
    reply = b"R" + struct.pack("!ii", 8, 0)  # authenticated
    for name, value in PARAMETERS.items():
        body = f"{name}\0{value}\0".encode()
        reply += b"S" + struct.pack("!i", len(body) + 4) + body
    connection.sendall(reply + b"Z" + struct.pack("!i", 5) + b"I")  # ready for a query
    connection.recv(65536)
    connection.close()


@pytest.fixture
def cutting_server():
    """A server on a free port that lets every connection in and cuts it at once."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)  # so that the loop sees ``stopping`` soon
    stopping = threading.Event()

    def serve():
        while not stopping.is_set():
            try:
                accepted, _ = listener.accept()
            except TimeoutError:
                continue
            accepted.settimeout(30)
            with accepted:
                try:
                    _let_in_then_hang_up(accepted)
                except (OSError, struct.error):
                    pass  # the client gave up first

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stopping.set()
    thread.join(timeout=10)
    listener.close()


def test_a_connection_cut_as_it_is_set_up_is_sqlalchemys_error_and_retried(cutting_server):
    url = f"postgresql://postgres@127.0.0.1:{cutting_server}/scoreboard?sslmode=disable"
    app = create_app(base_config(url, None))
    with app.app_context(), pytest.raises(OperationalError) as raised:
        autocommit_row("SELECT 1", {})
    # An OperationalError is a 503 (web/replies.py); invalidated, the view runs once more.
    assert raised.value.connection_invalidated


@pytest.mark.parametrize("configured", [None, {}], ids=["default", "options-configured"])
def test_the_write_bind_keeps_one_plan_for_each_of_the_procedures_statements(
        database_url, configured):
    """The procedure's statements over the partitioned tickets are planned once per
    connection (data/__init__.py _generic_plans: PostgreSQL would plan them afresh at every
    call), and the ORM's statements keep PostgreSQL's default; also where the deployment
    configures engine options of its own, without connection arguments."""
    overrides = {} if configured is None else {"SQLALCHEMY_ENGINE_OPTIONS": configured}
    app = create_app(base_config(database_url, None, **overrides))
    with app.app_context():
        assert autocommit_row("SHOW plan_cache_mode", {}) == ("force_generic_plan",)
        assert db.session.execute(text("SHOW plan_cache_mode")).scalar() == "auto"
        db.session.rollback()
        for engine in db.engines.values():
            engine.dispose()


def in_use(client) -> float:
    return sample_sum(client.get("/metrics").text, "scoreboard_db_pool_in_use")


def activity(pid: int) -> str | None:
    """What a backend is doing (pg_stat_activity's state); None once it has ended."""
    admin = psycopg2.connect(ADMIN_DB_URL)
    try:
        with admin.cursor() as cur:
            cur.execute("SELECT state FROM pg_stat_activity WHERE pid = %s", (pid,))
            found = cur.fetchone()
            return found and found[0]
    finally:
        admin.close()


def test_a_statements_connection_waits_for_the_next_one_beside_the_pool(make_app):
    """The next statement runs on the same connection, which the pool still counts as
    checked out and the metric as back: it is the worker's, and no request's."""
    app = make_app("postgres", DATABASE_POOL_SIZE=3)
    client = app.test_client()
    before = in_use(client)
    with app.app_context():
        (first,) = autocommit_row(BACKEND, {})
        assert autocommit_row(BACKEND, {}) == (first,)
        assert db.engines[AUTOCOMMIT].pool.checkedout() == 1
    assert in_use(client) == before


def test_a_connection_goes_back_to_the_pool_when_the_pool_has_none_left(make_app):
    """A statement that waits on the pool is not left waiting while a connection is idle
    beside it: once the pool has none to hand out, a connection goes back to it."""
    app = make_app("postgres", DATABASE_POOL_SIZE=2)
    with app.app_context():
        pool = db.engines[AUTOCOMMIT].pool
        autocommit_row(BACKEND, {})  # the pool has one more to give: kept beside it
        assert (pool.checkedout(), pool.checkedin()) == (1, 0)
        with db.engines[AUTOCOMMIT].connect():  # the pool's last one
            autocommit_row(BACKEND, {})  # so this one goes back to it
            assert (pool.checkedout(), pool.checkedin()) == (1, 1)


def test_disposing_of_the_engine_closes_the_idle_connections(make_app):
    app = make_app("postgres")
    client = app.test_client()
    before = in_use(client)
    with app.app_context():
        (old,) = autocommit_row(BACKEND, {})
        db.engines[AUTOCOMMIT].dispose()
        # The server ends the backend once it reads the close.
        wait_for(lambda: activity(old) is None, "the idle connection's backend to end")
        assert autocommit_row(BACKEND, {}) != (old,)
    assert in_use(client) == before


def test_an_idle_connection_the_server_cut_costs_one_retry(make_app):
    """Its statement fails as a lost connection (the view's one retry), and the next runs
    on a new connection."""
    app = make_app("postgres")
    with app.app_context():
        (cut,) = autocommit_row(BACKEND, {})
        admin = psycopg2.connect(ADMIN_DB_URL)
        try:
            admin.autocommit = True
            with admin.cursor() as cur:
                cur.execute("SELECT pg_terminate_backend(%s, 5000)", (cut,))
        finally:
            admin.close()
        with pytest.raises(OperationalError) as raised:
            autocommit_row(BACKEND, {})
        assert raised.value.connection_invalidated
        (new,) = autocommit_row(BACKEND, {})
        assert new != cut


def test_a_statement_stopped_midway_leaves_its_connection_to_the_pool(make_app):
    """A greenlet killed while its statement runs (as gevent's worker stops its requests):
    the connection, in whatever state, goes back to the pool, not beside it, and the next
    statement runs."""
    app = make_app("postgres")

    def sleeping():
        with app.app_context():
            autocommit_row("SELECT pg_sleep(60)", {})

    patch_psycopg()  # as in a gunicorn worker (gunicorn.conf.py): the statement yields
    try:
        with app.app_context():
            (idle,) = autocommit_row(BACKEND, {})
            running = gevent.spawn(sleeping)
            gevent.idle()  # it runs until its statement waits on the server
            wait_for(lambda: activity(idle) == "active", "the statement to run")
            running.kill()
            assert app.extensions[AUTOCOMMIT].idle == []
            assert autocommit_row("SELECT 1", {}) == (1,)
            db.engines[AUTOCOMMIT].dispose()
    finally:
        psycopg2.extensions.set_wait_callback(None)
