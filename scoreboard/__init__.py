"""Live Scoreboard: a Flask service that keeps scores honest and shows the top 10 live."""

import os

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

import config as settings

from . import identity
from .adapters.blocklist import RedisBlocklist
from .adapters.board_cache import MemoryBoardCache, RedisBoardCache
from .adapters.broker import MemoryBroker, RedisBroker
from .adapters.local_boards import LocalBoards
from .adapters.rank_sets import RedisRankSets
from .adapters.store import RedisStore, connection_pool
from .boards.refresher import Refresher
from .core.services import Services, register
from .data import reconnect
from .data.db import AUTOCOMMIT, db, migrate
from .live.hub import Hub
from .ops import cli, health, logs, metrics
from .web import admin, api, cors, gate, openapi, page, replies, stream
from .web.limiter import limiter
from .web.reads import BoardReads

MIGRATIONS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "migrations")


def create_app(config: dict | None = None) -> Flask:
    """Build the app from the environment, with ``config`` overriding it (tests do)."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.update(settings.from_env())
    app.config.update(config or {})
    settings.check(app.config, cli.run_hosts())
    app.json = replies.StrictJSON(app)
    logs.init_app(app)
    adapters = _configure_storage(app)

    cors.init_app(app)  # before gate, whose hook may replace a reply with a 429
    db.init_app(app)
    metrics.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS, render_as_batch=True)
    identity.init_app(app, blocklist=adapters.blocklist)
    limiter.init_app(app)
    gate.init_app(app)
    replies.init_app(app)
    cli.init_app(app)
    app.url_map.converters.update(api.CONVERTERS)
    app.register_blueprint(api.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(stream.bp)
    app.register_blueprint(page.bp)
    app.register_blueprint(openapi.bp)
    reconnect.init_app(app)
    app.wsgi_app = metrics.RequestMetrics(logs.RequestIds(BoardReads(app, app.wsgi_app)))
    if app.config["PROXY_HOPS"]:
        # The same proxies say which scheme the client used (HSTS goes on HTTPS only).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["PROXY_HOPS"],
                                x_proto=app.config["PROXY_HOPS"])
    return app


def _configure_storage(app: Flask) -> Services:
    """Pick the adapters: SQLite and in-process state, or PostgreSQL and Redis."""
    config = app.config
    config["SQLALCHEMY_DATABASE_URI"] = settings.database_url(config["SQLALCHEMY_DATABASE_URI"])
    if not config["SQLALCHEMY_DATABASE_URI"]:
        os.makedirs(app.instance_path, exist_ok=True)
        path = os.path.join(app.instance_path, "scoreboard.db")
        config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{path}"
    options = config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", _engine_options(config))
    if config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # For one-statement transactions (scoring's function call): they commit as they run,
        # so no COMMIT round trip, and no isolation level to switch back on a pooled
        # connection (which fails, unhandled, on a connection the server has cut).
        config.setdefault("SQLALCHEMY_BINDS", {AUTOCOMMIT: {
            "url": config["SQLALCHEMY_DATABASE_URI"], **options,
            "isolation_level": "AUTOCOMMIT"}})
    redis_url = config.get("REDIS_URL")
    if redis_url:
        limits_pool = connection_pool(config, config["REDIS_MAX_CONNECTIONS"])
        config["RATELIMIT_STORAGE_OPTIONS"] = {"connection_pool": limits_pool}
    adapters = _services(app, redis_url)
    register(app, adapters)
    config["RATELIMIT_STORAGE_URI"] = redis_url or "memory://"
    config["RATELIMIT_KEY_PREFIX"] = config["REDIS_PREFIX"] + "limits"
    # A Redis outage should loosen rate limiting to per-process counts, not fail requests;
    # swallowing covers a request that races the switch to (or back from) the fallback.
    config["RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"] = True
    config["RATELIMIT_SWALLOW_ERRORS"] = True
    return adapters


def _services(app: Flask, redis_url: str | None) -> Services:
    """Redis's services, or the embedded default's in-process ones."""
    config = app.config
    if redis_url:
        # The subscription holds one connection of the store's pool for good.
        pool = connection_pool(config, config["REDIS_MAX_CONNECTIONS"] + 1)
        redis = RedisStore(pool, config["REDIS_PREFIX"], config["REDIS_RETRY_SECONDS"])
        board_cache, blocklist = RedisBoardCache(redis), RedisBlocklist(redis)
        rank_sets = RedisRankSets(redis)
        broker = RedisBroker(redis, board_cache, rank_sets,
                             config["REDIS_SOCKET_TIMEOUT_SECONDS"])
    else:
        redis = blocklist = rank_sets = None
        board_cache = MemoryBoardCache()
        broker = MemoryBroker(board_cache)
    boards = LocalBoards(config["TOP_LOCAL_MAX_AGE_SECONDS"])
    refresher = Refresher(app, boards, board_cache, config["BOARD_REFRESH_SECONDS"])
    return Services(redis=redis, board_cache=board_cache, blocklist=blocklist,
                    rank_sets=rank_sets, broker=broker, local_boards=boards,
                    refresher=refresher, hub=Hub(app, broker, boards, refresher),
                    limits=gate.Limits(config))


def _engine_options(config) -> dict:
    """Bounded waits, so a stalled database answers 503 instead of holding requests."""
    # No pre-ping: a dead connection costs one retry (reconnect.py), not a round trip each time.
    options = {"pool_timeout": 5}
    if config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # No overflow: a connection opened past the pool is closed again on its return, so
        # under load every request would pay for a new one. Past the pool, requests wait.
        options.update(pool_size=config["DATABASE_POOL_SIZE"], max_overflow=0)
        options["connect_args"] = {
            "connect_timeout": 5,
            "options": f"-c lock_timeout={config['DATABASE_LOCK_TIMEOUT_MS']}"
            f" -c statement_timeout={config['DATABASE_STATEMENT_TIMEOUT_MS']}",
        }
    return options
