"""Gunicorn settings: one gevent worker serves thousands of long-lived streams."""

import glob
import os
import shutil
import tempfile

# Platforms route to $PORT on all interfaces; on a laptop stay on loopback, the one place
# where the development secret may serve (on_starting).
_host = os.environ.get("HOST") or ("0.0.0.0" if "DYNO" in os.environ else "127.0.0.1")
bind = f"{_host}:{os.environ.get('PORT', '8000')}"
worker_class = "gevent"
# The embedded default keeps its broker and cache in the process: it must be the only one.
workers = int(os.environ.get("WEB_CONCURRENCY") or 2) if os.environ.get("REDIS_URL") else 1
worker_connections = int(os.environ.get("WORKER_CONNECTIONS", 12000))
# A deploy's reconnect storm opens thousands of streams at once. Connections wait in the
# kernel's accept queue until a worker takes them, and when it is full the kernel drops new
# ones: each then waits a second (then three) for its retry. gunicorn's default of 2048
# overflowed with 3,000 opens at once (docs/PERFORMANCE.md); the kernel caps this at
# net.core.somaxconn.
backlog = int(os.environ.get("BACKLOG", 8192))
# The gevent worker's liveness ping runs in its own greenlet, so long responses are fine here.
timeout = 30
graceful_timeout = 10
keepalive = 5
# Never preload with gevent: the app would be built before the worker patches the world.
preload_app = False
# gunicorn 27's runtime control socket (in the home directory by default): a management
# interface this service has no use for, and one path that every instance on a machine
# would fight over.
control_socket_disable = True
accesslog = os.environ.get("ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")


# Set by on_starting to the metrics directory it made, which on_exit removes. An environment
# variable rather than a global: a reload (SIGHUP) runs this file again, but not on_starting.
_OWN_METRICS_DIR = "SCOREBOARD_OWN_METRICS_DIR"


def on_starting(server):
    """Before listening, refuse to serve others with the development secret (config.check):
    the addresses are gunicorn's own, so ``-b`` and GUNICORN_CMD_ARGS count too.

    Metrics (scoreboard/metrics.py): every worker writes its figures to files in one
    directory, and each start needs it empty. Without PROMETHEUS_MULTIPROC_DIR set, make a
    temporary one. Set here, in the master, it reaches every worker before any of them
    imports prometheus_client, which reads it then; nothing here may import it earlier."""
    import config

    # gunicorn prints a RuntimeError (ConfigError is one) as "Error: ..." and exits with 1.
    config.check(config.from_env(), [_bound_host(address) for address in server.cfg.bind])
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, exist_ok=True)
        for path in glob.glob(os.path.join(directory, "*.db")):
            os.remove(path)
    else:
        directory = tempfile.mkdtemp(prefix="scoreboard-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.environ[_OWN_METRICS_DIR] = directory


def _bound_host(address: str) -> str:
    """The host of one of gunicorn's bind addresses; a Unix socket or an inherited
    descriptor as written (never a loopback address)."""
    from gunicorn.util import parse_address

    parsed = parse_address(address)  # (host, port); or a socket's path, or a descriptor
    return parsed[0] if isinstance(parsed, tuple) else address


def child_exit(server, worker):
    """A worker's gauges leave the sums with it; its counters stay in them."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """The directory on_starting made goes with the server; one set from outside stays."""
    if os.environ.get(_OWN_METRICS_DIR):
        shutil.rmtree(os.environ[_OWN_METRICS_DIR], ignore_errors=True)


def post_fork(server, worker):
    # psycopg2 is C code: without this wait callback a query would block the whole worker.
    from psycogreen.gevent import patch_psycopg

    patch_psycopg()


def post_worker_init(worker):
    """Subscribe to change notices now, so this worker's copies of the boards are retired
    as soon as any worker changes them; and on SIGTERM, end its streams at once so a deploy
    is not held up by them."""
    import signal

    import gevent

    from scoreboard.live import current_hub

    hub = current_hub(worker.wsgi)
    hub.start()

    # gunicorn calls no hook when a worker gets SIGTERM (worker_int is for SIGINT and
    # SIGQUIT, worker_exit comes after the graceful wait): its handler only stops the
    # accept loop, and the worker then waits up to graceful_timeout for open responses,
    # which a stream never ends by itself. So this handler ends the streams first (each
    # browser reconnects, through the balancer, to a running instance), then hands over
    # to gunicorn's own. Streams end within milliseconds and the worker leaves at its next
    # one-second tick: measured with 20 streams open, 1-2 s instead of graceful_timeout.
    def stop_streams_then_exit(signum, frame):
        gevent.spawn(hub.stop)
        worker.handle_exit(signum, frame)

    signal.signal(signal.SIGTERM, stop_streams_then_exit)
