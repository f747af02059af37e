"""Fixtures: an app on each backend, players with tokens, and real servers on free ports.

``embedded``: SQLite in a temporary folder with in-process store and broker.
``postgres``: a database of this run's own on the PostgreSQL server, and Redis with a key
prefix of each test's own. A missing server skips those tests, except in CI where it fails.
``cluster``: the same database, and a Redis Cluster of this run's own (harness/cluster.py).
Tests take the first two by default; a module (or test) marked ``backends(...)`` names its
own, so the cluster runs the same tests as one Redis.
"""

import gc
import os
import shutil
import subprocess
import uuid

import psycopg2
import pytest
import redis
from flask_migrate import upgrade
from sqlalchemy import text

from scoreboard import adapters, create_app
from scoreboard.adapters.redis_port import StoreUnavailable
from scoreboard.data.db import db
from scoreboard.identity.auth import issue_token
from scoreboard.live import current_hub
from scoreboard.play.actions import seed_catalog

from .harness import SECRET
from .harness.cluster import RedisClusterServers
from .harness.databases import ADMIN_DB_URL, create_database, drop_database
from .harness.meters import redis_errors
from .harness.players import Player
from .harness.servers import RedisServer, Server
from .harness.streams import EventStream

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() == "true"
TABLES = ("action_tickets", "audit_events", "revoked_tokens", "users", "action_types",
          "group_invitations", "group_members", "groups", "window_scores",
          "audit_checkpoints", "checkpoint_scores")


def service_missing(what: str, error: Exception):
    """Skip on a developer's machine; fail in CI, where every service must be there."""
    message = f"{what} is not reachable: {error}"
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def redis_url():
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        service_missing(f"Redis at {REDIS_URL}", exc)
    return REDIS_URL


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory):
    """Six redis-servers of this run's own as a cluster (three primaries, three replicas),
    stopped at the end whatever happens."""
    servers = RedisClusterServers(tmp_path_factory.mktemp("cluster"))
    try:
        servers.start()
    except (OSError, subprocess.SubprocessError, RuntimeError) as exc:
        service_missing("a Redis Cluster of redis-servers", exc)
    yield servers
    servers.stop()


@pytest.fixture(params=["redis", "cluster"])
def any_redis_url(request):
    """For a test that runs on one Redis and again on a Redis Cluster."""
    if request.param == "cluster":
        return request.getfixturevalue("redis_cluster").url
    return request.getfixturevalue("redis_url")


@pytest.fixture(scope="session")
def database_url():
    """A new database for this run, migrated once, dropped at the end."""
    name = f"scoreboard_test_{os.getpid()}"
    try:
        url = create_database(name, durable=False)
    except psycopg2.OperationalError as exc:
        service_missing(f"PostgreSQL at {ADMIN_DB_URL}", exc)
    app = create_app(base_config(url, None))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    yield url
    drop_database(name)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """An embedded database migrated once for the run: each embedded app starts from a copy
    of it, instead of running every migration again (half a second an app)."""
    path = tmp_path_factory.mktemp("template") / "scoreboard.db"
    app = create_app(base_config(f"sqlite:///{path}", None))
    with app.app_context():
        upgrade()
        for engine in db.engines.values():
            engine.dispose()
    return path


def base_config(database_url, redis_url, **overrides) -> dict:
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": f"test:{uuid.uuid4().hex[:12]}:",
        "JWT_SECRET_KEY": SECRET,
        "RATELIMIT_IP": "10000/minute",
        "RATELIMIT_START": "10000/minute",
        "RATELIMIT_UPDATE": "10000/minute",
        "RANK_REBUILD_IN_BACKGROUND": False,
        # Slow is not down here: a test machine may be busy, and outage tests kill Redis.
        "REDIS_SOCKET_TIMEOUT_SECONDS": 15,
        **overrides,
    }


def reset_postgres(app):
    """Empty the run's database for the next test, in one transaction. DELETE, children
    before parents, rather than TRUNCATE, which makes new files for every table, index and
    partition (a quarter of a second a test, against a hundredth). The tables are locked
    first against writes (EXCLUSIVE; TRUNCATE's own lock would also stop reads), so that a
    write a killed server left in flight ends before, as it would before TRUNCATE."""
    with app.app_context():
        db.session.execute(text(f"LOCK TABLE {', '.join(TABLES)} IN EXCLUSIVE MODE"))
        for table in reversed(db.metadata.sorted_tables):
            if table.name in TABLES:
                db.session.execute(table.delete())
        db.session.execute(text("UPDATE board_state SET version = 0"))
        db.session.execute(text("SELECT setval('board_version', 0)"))
        db.session.commit()
        seed_catalog()


@pytest.fixture
def make_app(request, tmp_path):
    """Build apps on the backend a test asks for; cleans up what each one left."""
    made = []

    def make(backend="embedded", **overrides):
        if backend == "embedded":
            path = tmp_path / f"scoreboard-{len(made)}.db"
            shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
            app = create_app(base_config(f"sqlite:///{path}", None, **overrides))
            with app.app_context():
                seed_catalog()
        else:
            url = request.getfixturevalue("database_url")
            redis_url = (request.getfixturevalue("redis_cluster").url if backend == "cluster"
                         else request.getfixturevalue("redis_url"))
            app = create_app(base_config(url, redis_url, **overrides))
            reset_postgres(app)
        made.append(app)
        return app

    yield make
    for app in made:
        # A hub a test started in this process (a stream opened through the test client)
        # would otherwise keep greenlets that a later gevent test runs: a Redis hub's
        # listener reads its socket without yielding.
        current_hub(app).stop()
        store = adapters.of(app).store
        if store is not None:
            try:
                store.delete(*store.scan(store.key("*")))
            except (StoreUnavailable, redis.RedisError):
                pass  # a test's own Redis, already stopped; or too busy: the keys are unique
            store.close()
        with app.app_context():
            for engine in db.engines.values():
                engine.dispose()


BACKENDS = ("embedded", "postgres")


def pytest_configure(config):
    config.addinivalue_line("markers", "backends(*names): the backends a test runs on")


def pytest_generate_tests(metafunc):
    """Each test that takes ``backend`` runs on each backend its ``backends`` mark names
    (embedded and postgres without one)."""
    named = {name.strip() for mark in metafunc.definition.iter_markers("parametrize")
             for name in (mark.args[0].split(",") if isinstance(mark.args[0], str)
                          else mark.args[0])}
    if "backend" in metafunc.fixturenames and "backend" not in named:
        marked = metafunc.definition.get_closest_marker("backends")
        metafunc.parametrize("backend", marked.args if marked else BACKENDS)


@pytest.fixture
def refusals(request):
    """On the cluster, fail a test during which Redis refused a command: a command across
    slots (which redis-py refuses before sending it) would otherwise pass unseen where the
    store logs instead of raising (change notices)."""
    callspec = getattr(request.node, "callspec", None)
    if callspec is None or callspec.params.get("backend") != "cluster":
        yield
        return
    before = redis_errors()
    yield
    assert redis_errors() == before, "Redis refused commands during the test (see the log)"


@pytest.fixture
def app(make_app, backend, refusals):
    return make_app(backend)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def player(app, client):
    """``player("alice")``: a user with a valid token who can start and complete actions."""

    def make(user_id, **claims):
        with app.app_context():
            token = issue_token(user_id, **claims)
        return Player(user_id, token, client)

    return make


@pytest.fixture
def serve(make_app, database_url, tmp_path):
    """Start real gunicorn servers on a freshly reset PostgreSQL database; all are stopped at
    the end whatever happens. Returns (start_server, app) where ``app`` shares the database."""
    app = make_app("postgres")
    servers = []

    def start(redis_url, **env):
        server = Server(database_url, redis_url, log_dir=tmp_path, **env)
        servers.append(server)
        return server.start()

    yield start, app
    for server in servers:
        server.kill()
    # A socket the test left open is reported now, against this test, not against whichever
    # test happens to run when the garbage collector next finds it.
    gc.collect()


@pytest.fixture
def open_stream():
    """``open_stream(url, headers)``: an SSE client of a real server, closed at the end
    whatever happens (closing it earlier, as a test may, is fine)."""
    opened = []

    def open_(url, headers=None, timeout=30.0):
        stream = EventStream(url, headers, timeout)
        opened.append(stream)
        return stream

    yield open_
    for stream in opened:
        stream.close()


@pytest.fixture
def round_trips(monkeypatch):
    """The requests this process sends to Redis during the test, one entry each."""
    sent = []
    send = redis.connection.AbstractConnection.send_packed_command

    def counted(self, *args, **kwargs):
        sent.append(1)
        return send(self, *args, **kwargs)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counted)
    return sent


@pytest.fixture
def under_gevent(store):
    """The test module's Redis ``store`` behaves as in a gevent worker: commands sent later
    wait for a greenlet of their own, or for the next command, to go."""
    store.deferred = True


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of this test's own on a free port, killed at the end."""
    server = RedisServer(tmp_path).start()
    yield server
    server.kill()


@pytest.fixture
def own_redis_cluster(tmp_path):
    """A Redis Cluster of this test's own (it may kill its nodes), stopped at the end."""
    servers = RedisClusterServers(tmp_path / "cluster")
    (tmp_path / "cluster").mkdir()
    try:
        yield servers.start()
    finally:
        servers.stop()


@pytest.fixture
def own_tls_redis_cluster(tmp_path):
    """A Redis Cluster of this test's own whose nodes speak only TLS, to clients and to each
    other, on a self-signed certificate; stopped at the end."""
    servers = RedisClusterServers(tmp_path / "tls-cluster", tls=True)
    (tmp_path / "tls-cluster").mkdir()
    try:
        yield servers.start()
    finally:
        servers.stop()


@pytest.fixture
def own_tls_redis(tmp_path):
    """A redis-server of this test's own that speaks only TLS, on a self-signed certificate
    (as Heroku Redis does), on a free port; killed at the end."""
    server = RedisServer(tmp_path, tls=True)
    try:
        yield server.start()
    finally:
        server.kill()
