"""Live Scoreboard: a Flask service that keeps scores honest and shows the top 10 live."""

import os

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

import config as settings

from . import adapters, boards, data, identity, live
from .boards.local_boards import LocalBoards
from .boards.refresher import Refresher
from .live.hub import Hub
from .ops import cli, health, logs, metrics
from .play.upkeep import Upkeep
from .web import admin, api, cors, gate, openapi, page, replies, stream
from .web.reads import BoardReads
from .web.writes import Writes

MIGRATIONS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "migrations")


def create_app(config: dict | None = None) -> Flask:
    """Build the app from the environment, with ``config`` overriding it (tests do)."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.update(settings.from_env())
    app.config.update(config or {})
    settings.check(app.config, cli.run_hosts())
    app.json = replies.StrictJSON(app)
    logs.init_app(app)
    data.configure(app)
    _configure_limits(app)
    built = adapters.build(app.config)
    local = LocalBoards(app.config["TOP_LOCAL_MAX_AGE_SECONDS"])
    refresher = Refresher(app, local, built.cache, app.config["BOARD_REFRESH_SECONDS"])
    hub = Hub(app, built.broker, local, refresher)
    refresher.listen(hub.board_newer)
    upkeep = Upkeep(app)
    hub.run_with(upkeep.start, upkeep.stop)  # the partitions' upkeep, from each worker
    limits = gate.Limits(app.config)

    adapters.init_app(app, built)
    boards.init_app(app, boards.Ports(built.cache, built.broker, built.rank_sets, local,
                                      refresher))
    live.init_app(app, hub)
    cors.init_app(app)
    data.init_app(app, migrations=MIGRATIONS)
    metrics.init_app(app, built.store, [hub.publish, refresher.publish])
    identity.init_app(app, blocklist=built.blocklist)
    gate.init_app(app, limits, built.blocklist)
    replies.init_app(app)
    cli.init_app(app)
    api.init_app(app)
    app.register_blueprint(admin.bp)
    app.register_blueprint(health.bp)
    stream.init_app(app, built.tickets)
    app.register_blueprint(page.bp)
    app.register_blueprint(openapi.bp)
    gate.init_limiter(app).exempt(page.bp)
    app.wsgi_app = metrics.RequestMetrics(
        logs.RequestIds(Writes(app, BoardReads(app, app.wsgi_app, limits, hub))))
    if app.config["PROXY_HOPS"]:
        # The same proxies say which scheme the client used (HSTS goes on HTTPS only).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["PROXY_HOPS"],
                                x_proto=app.config["PROXY_HOPS"])
    return app


# Flask-Limiter's connections to Redis (to each node of a cluster), per worker, at most: it
# counts only the routes the gate does not (gate.py), few and seldom called. With the
# store's, a worker holds at most REDIS_MAX_CONNECTIONS + 5 connections to a node (15).
LIMITS_CONNECTIONS = 4


def _configure_limits(app: Flask) -> None:
    """The rate limits' storage."""
    config = app.config
    redis_url = config.get("REDIS_URL")
    connections = min(LIMITS_CONNECTIONS, config["REDIS_MAX_CONNECTIONS"])
    if adapters.is_cluster(redis_url):
        options = adapters.cluster_options(config, connections)
        # A storage that connects at first use (adapters/cluster_limits.py); TLS in the options.
        redis_url = adapters.limits_scheme() + "://" + redis_url.partition("://")[2]
        config["RATELIMIT_STORAGE_OPTIONS"] = options
    elif redis_url:
        limits_pool = adapters.connection_pool(config, connections)
        config["RATELIMIT_STORAGE_OPTIONS"] = {"connection_pool": limits_pool}
    config["RATELIMIT_STORAGE_URI"] = redis_url or "memory://"
    config["RATELIMIT_KEY_PREFIX"] = config["REDIS_PREFIX"] + "limits"
    # A Redis outage should loosen rate limiting to per-process counts, not fail requests;
    # swallowing covers a request that races the switch to (or back from) the fallback.
    config["RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"] = True
    config["RATELIMIT_SWALLOW_ERRORS"] = True
