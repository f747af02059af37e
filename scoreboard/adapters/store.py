"""The shared store's connection: Redis, which the board cache, the blocklist, the rank
sets and the change notices share in production (the embedded default keeps what it needs
in the process instead). Everything in it is a cache over the database: losing it loses no
data.
"""

import logging
import time

import gevent
import redis
from gevent import monkey
from gevent.event import Event

from ..core.meters import REDIS_ERRORS

log = logging.getLogger(__name__)

# What says Redis cannot take commands now, rather than that a command was wrong: redis-py
# raises these for a refused, dropped or timed-out connection (it wraps the socket's own
# errors in them), a pool with no connection to spare, a server still loading its data or
# refusing our login; and the error replies of a server that is full (OOM under noeviction),
# a replica after a failover (READONLY) or a cluster in trouble. Each degrades the service
# to the database as an outage does, instead of failing requests.
OUTAGES = (redis.ConnectionError, redis.TimeoutError, redis.exceptions.OutOfMemoryError,
           redis.exceptions.ReadOnlyError, redis.exceptions.ClusterDownError,
           redis.exceptions.TryAgainError)


def connection_pool(config, max_connections: int) -> redis.BlockingConnectionPool:
    """The one way the service connects to Redis (the store, its subscription and the rate
    limits), so every connection honours the same settings. A bounded pool: under gevent
    every waiting greenlet could otherwise open its own connection, so a burst of requests
    would leave hundreds of idle ones behind. A reply slower than
    ``REDIS_SOCKET_TIMEOUT_SECONDS`` counts as Redis down (the database answers instead)."""
    url = config["REDIS_URL"]
    # Only a TLS connection takes certificate options; a plain one refuses them.
    tls = {"ssl_cert_reqs": config["REDIS_SSL_CERT_REQS"]} if url.startswith("rediss://") else {}
    return redis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=2,  # waiting for a free connection longer than this counts as Redis down
        socket_connect_timeout=0.5,
        socket_timeout=config["REDIS_SOCKET_TIMEOUT_SECONDS"],
        health_check_interval=10,
        **tls,
    )


def queue_script(pipe, script: str, keys, args) -> None:
    """Queue a Lua script on a pipeline (redis-py's or ``Commands``) by its text: a
    registered Script would first ask Redis whether it knows the script, a round trip of
    its own on every execute."""
    pipe.execute_command("EVAL", script, len(keys), *keys, *args)


class Commands:
    """Commands for one round trip, packed as they are queued (``execute_command``, as on
    redis-py's pipeline). A write's gate and its change notices travel this way: redis-py's
    pipeline machinery (its packer, callbacks, observability and retry layers) measured at
    about a tenth of an update's CPU, for commands whose replies are plain integers and
    lists."""

    def __init__(self):
        self.packed = []

    def __len__(self) -> int:
        return len(self.packed)

    def execute_command(self, *args) -> None:
        parts = [b"*%d\r\n" % len(args)]
        for arg in args:
            data = arg if isinstance(arg, bytes) else str(arg).encode()
            parts.append(b"$%d\r\n%b\r\n" % (len(data), data))
        self.packed.append(b"".join(parts))


class StoreUnavailable(Exception):
    """The shared store cannot be reached; callers fall back to the database."""


def refused(error: redis.RedisError) -> None:
    """Log and count a command Redis (or redis-py) refused: a bad argument or an error
    reply is a bug in the command, not an outage, so the store stays in use."""
    kind = type(error).__name__
    log.error("redis refused a command (%s): %s", kind, error)
    REDIS_ERRORS.labels(kind).inc()


class RedisStore:
    """The connection every Redis service calls through. After a failure it stays away for a
    moment instead of paying a timeout on every request, and reports the recovery once to
    each service so it can rebuild what it caches."""

    def __init__(self, pool: redis.ConnectionPool, prefix: str, retry_after: float = 1.0):
        self.client = redis.Redis(connection_pool=pool)
        self.prefix = prefix
        self.retry_after = retry_after
        self._down_until = 0.0
        self._failed = False
        self._recoveries = 0
        self._seen_recoveries = {}
        self._later = []  # functions queueing commands that nobody reads the replies of
        self._later_sent = Event()  # set once the commands now in _later have gone
        self._flushing = False

    def key(self, name: str) -> str:
        return self.prefix + name

    def call(self, fn, *args, **kwargs):
        """``fn(*args, **kwargs)``, a Redis command; StoreUnavailable when Redis cannot be
        reached, or could not less than ``retry_after`` seconds ago. Any other error (a bad
        argument, an error reply) is logged, counted and raised as it is: it fails this
        request alone. What waits to be sent goes first."""
        if self._later:
            self._flush()
        if time.monotonic() < self._down_until:
            raise StoreUnavailable("redis recently failed")
        try:
            result = fn(*args, **kwargs)
        except redis.RedisError as exc:
            raise self._failure(exc) from exc
        if self._failed:
            self._failed = False
            self._recoveries += 1
        return result

    def send(self, queue) -> None:
        """Send commands whose replies nobody reads (a change notice), and return once Redis
        has taken them (or failed to): ``queue(pipe)`` adds them to the next pipeline this
        process sends, in the order given and before any later command. Under gevent that
        is another write's gate (``pipelined``) or a flush as soon as the current greenlet
        yields, whichever comes first, so concurrent writes share round trips. Elsewhere
        (tests, the CLI) they go at once."""
        self._later.append(queue)
        sent = self._later_sent
        if not monkey.is_module_patched("socket"):
            self._flush()
        elif not self._flushing:
            self._flushing = True
            gevent.spawn(self._flush)
        sent.wait()

    def pipelined(self, queue) -> list:
        """One round trip: what waits to be sent, then the commands ``queue(pipe)`` adds;
        returns the replies to those. An error reply to one of them is raised as ``call``
        raises it."""
        commands = Commands()
        sent = self._take_later(commands)
        waiting = len(commands)
        queue(commands)
        try:
            replies = self._execute(commands, waiting)
        finally:
            sent.set()
        failed = [r for r in replies[waiting:] if isinstance(r, Exception)]
        if failed:
            raise self._failure(failed[0])
        return replies[waiting:]

    def _failure(self, error: redis.RedisError) -> Exception:
        """What to raise for ``error``: StoreUnavailable for an outage, after which Redis is
        left alone for ``retry_after`` seconds; the error itself, logged and counted, for a
        command Redis refused (a bug in the command)."""
        if isinstance(error, OUTAGES):
            self._down_until = time.monotonic() + self.retry_after
            self._failed = True
            return StoreUnavailable(str(error))
        refused(error)
        return error

    def _take_later(self, commands: Commands) -> Event:
        """Queue what waits to be sent on ``commands``; returns the event that its senders
        wait on, to be set once ``commands`` went (or failed)."""
        later, self._later = self._later, []
        sent, self._later_sent = self._later_sent, Event()
        for queue in later:
            queue(commands)
        return sent

    def _flush(self) -> None:
        self._flushing = False
        commands = Commands()
        sent = self._take_later(commands)
        try:
            if commands:
                self._execute(commands, len(commands))
        except (StoreUnavailable, redis.RedisError):
            pass  # logged (and counted) already; caches are rebuilt once Redis is back
        finally:
            sent.set()

    def _execute(self, commands: Commands, waiting: int) -> list:
        """Send ``commands``, whose first ``waiting`` were sent later: their failure is
        logged, not raised (a cache missing a notice is rebuilt after Redis recovers)."""
        try:
            replies = self.call(self._round_trip, commands)
        except StoreUnavailable as exc:
            if waiting:
                log.warning("%d change notice commands not sent: %s", waiting, exc)
            raise
        for reply in replies[:waiting]:
            if isinstance(reply, Exception):
                refused(reply)
        return replies

    def _round_trip(self, commands: Commands) -> list:
        """The replies to ``commands``, an error reply as its ResponseError. A dropped
        connection is retried as redis-py's own pipeline retries it."""
        pool = self.client.connection_pool
        connection = pool.get_connection()
        try:
            return connection.retry.call_with_retry(
                lambda: _send_and_read(connection, commands.packed),
                lambda error: connection.disconnect())
        finally:
            pool.release(connection)

    def answers(self) -> bool:
        """Whether Redis answers a PING now."""
        try:
            self.call(self.client.ping)
        except StoreUnavailable:
            return False
        return True

    def take_recovered(self, consumer: str) -> bool:
        """True once per consumer after Redis answers again following a failure: what it
        holds may have missed writes made meanwhile."""
        seen = self._seen_recoveries.get(consumer, 0)
        self._seen_recoveries[consumer] = self._recoveries
        return seen < self._recoveries


def _send_and_read(connection, packed: list) -> list:
    connection.send_packed_command([b"".join(packed)])
    replies = []
    for _ in packed:  # every reply is read, so the connection stays in step
        try:
            replies.append(connection.read_response())
        except redis.ResponseError as error:
            replies.append(error)
    return replies
