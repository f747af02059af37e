"""The write paths' one statement on the driver's own cursor (data/db.py autocommit_row):
whatever the driver raises reaches the request as SQLAlchemy's error, which the service
answers with 503, and retries once when the connection was lost."""

import socket
import struct
import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from scoreboard import create_app
from scoreboard.data.db import autocommit_row, db

from ..conftest import base_config

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
