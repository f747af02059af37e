"""The Redis port (redis_port.py) on one Redis server, which the board cache, the blocklist,
the rank sets and the change notices share in production (the embedded default keeps what
it needs in the process instead). Everything in it is a cache over the database: losing it
loses no data.
"""

import logging
import time

import gevent
import redis
from gevent import monkey
from gevent.event import Event

from ..core.meters import REDIS_ERRORS
from .redis_batches import Commands, Connections, Pipeline
from .redis_port import Message, StoreUnavailable

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


def refused(error: redis.RedisError) -> None:
    """Log and count a command Redis (or redis-py) refused: a bad argument or an error
    reply is a bug in the command, not an outage, so the store stays in use."""
    kind = type(error).__name__
    log.error("redis refused a command (%s): %s", kind, error)
    REDIS_ERRORS.labels(kind).inc()


class RedisStore:
    """The port (redis_port.RedisPort) on one Redis server. After a failure it stays away for
    a moment instead of paying a timeout on every request, and reports the recovery once to
    each consumer so it can rebuild what it caches. ``client``, its redis-py client, is for
    tests to look at Redis with; the service asks through the port alone."""

    # One server runs PUBLISH (any Redis does) and has no slots to keep apart.
    PUBLISH = "PUBLISH"
    ERRORS = (redis.RedisError,)  # what the client raises for a refusal or an outage
    OUTAGES = OUTAGES

    def __init__(self, client: redis.Redis, prefix: str, retry_after: float = 1.0):
        self._client = client
        self._kept = None if client is None else Connections(client.connection_pool)  # Commands
        self.prefix = prefix
        self.retry_after = retry_after
        # Whether pipelined and sent commands go packed by hand (Commands) or on redis-py's
        # pipeline: bench/update_cost.py compares the two.
        self.packed = True
        # Whether sent commands wait for a greenlet of their own (send): so under gevent,
        # whose worker patches sockets before it builds the app (gunicorn.conf.py).
        self.deferred = monkey.is_module_patched("socket")
        self._scripts = {}  # text -> redis-py Script: EVALSHA, and EVAL when Redis lacks it
        self._down_until = 0.0
        self._failed = False
        self._recoveries = 0
        self._seen_recoveries = {}
        self._later = []  # functions queueing commands that nobody reads the replies of
        self._later_sent = Event()  # set once the commands now in _later have gone
        self._flushing = False

    @classmethod
    def on_pool(cls, pool: redis.ConnectionPool, prefix: str, retry_after: float = 1.0):
        return cls(redis.Redis(connection_pool=pool), prefix, retry_after)

    @property
    def client(self) -> redis.Redis:
        return self._client

    def key(self, name: str) -> str:
        return self.prefix + name

    def slots(self, keys) -> list[list[int]]:
        return [list(range(len(keys)))] if keys else []

    def one_per_node(self, channels) -> list[str]:
        return list(channels[:1])

    def command(self, *args):
        return self._call(self.client.execute_command, *args)

    def script(self, text: str, keys, args):
        script = self._scripts.get(text)
        if script is None:
            script = self._scripts[text] = self.client.register_script(text)
        return self._call(script, keys=keys, args=args)

    def delete(self, *keys: str) -> None:
        if keys:
            self._call(self.client.delete, *keys)

    def scan(self, pattern: str) -> list[str]:
        return [key.decode() for key in self._call(
            lambda: list(self.client.scan_iter(match=pattern, count=1000)))]

    def transaction(self, queue) -> list:
        batch = Pipeline(self.client, transaction=True)
        queue(batch)
        return self._replies(self._call(batch.execute))

    def send(self, queue) -> None:
        """Under gevent, the commands go with the next pipeline this process sends, in the
        order given and before any later command: another write's gate (``pipelined``) or a
        flush as soon as the current greenlet yields, whichever comes first, so concurrent
        writes share round trips. Elsewhere (tests, the CLI) they go at once."""
        self._later.append(queue)
        sent = self._later_sent
        if not self.deferred:
            self._flush()
        elif not self._flushing:
            self._flushing = True
            gevent.spawn(self._flush)
        sent.wait()

    def pipelined(self, queue) -> list:
        batch = self._batch()
        sent = self._take_later(batch)
        waiting = len(batch)
        queue(batch)
        try:
            replies = self._execute(batch, waiting)
        finally:
            sent.set()
        return self._replies(replies[waiting:])

    def subscribe(self, channels, timeout: float) -> "RedisSubscription":
        return RedisSubscription(self.client, channels, timeout)

    def answers(self) -> bool:
        try:
            self._call(self.client.ping)
        except StoreUnavailable:
            return False
        return True

    def take_recovered(self, consumer: str) -> bool:
        seen = self._seen_recoveries.get(consumer, 0)
        self._seen_recoveries[consumer] = self._recoveries
        return seen < self._recoveries

    def close(self) -> None:
        self.client.close()
        self.client.connection_pool.disconnect()

    def _call(self, fn, *args, **kwargs):
        """``fn(*args, **kwargs)``, which asks Redis; StoreUnavailable when Redis cannot be
        reached, or could not less than ``retry_after`` seconds ago. Any other error (a bad
        argument, an error reply) is logged, counted and raised as it is: it fails this
        request alone. What waits to be sent goes first."""
        if self._later:
            self._flush()
        return self._ask(fn, *args, **kwargs)

    def _ask(self, fn, *args, **kwargs):
        """``_call`` but for what waits to be sent."""
        if time.monotonic() < self._down_until:
            raise StoreUnavailable("redis recently failed")
        try:
            result = fn(*args, **kwargs)
        except self.ERRORS as exc:
            raise self._failure(exc) from exc
        if self._failed:
            self._failed = False
            self._recoveries += 1
        return result

    def _replies(self, replies: list) -> list:
        """``replies``, unless one is an error: then the first, raised as ``_call`` does."""
        failed = [r for r in replies if isinstance(r, Exception)]
        if failed:
            raise self._failure(failed[0])
        return replies

    def _failure(self, error: Exception) -> Exception:
        """What to raise for ``error``: StoreUnavailable for an outage, after which Redis is
        left alone for ``retry_after`` seconds; the error itself, logged and counted, for a
        command Redis refused (a bug in the command)."""
        if isinstance(error, self.OUTAGES):
            self._down_until = time.monotonic() + self.retry_after
            self._failed = True
            return StoreUnavailable(str(error))
        refused(error)
        return error

    def _batch(self):
        return Commands(self._kept) if self.packed else Pipeline(self.client, transaction=False)

    def _take_later(self, batch) -> Event:
        """Queue what waits to be sent on ``batch``; returns the event that its senders
        wait on, to be set once ``batch`` went (or failed)."""
        later, self._later = self._later, []
        sent, self._later_sent = self._later_sent, Event()
        for queue in later:
            queue(batch)
        return sent

    def _flush(self) -> None:
        self._flushing = False
        batch = self._batch()
        sent = self._take_later(batch)
        try:
            if len(batch):
                self._execute(batch, len(batch))
        except (StoreUnavailable, *self.ERRORS):
            pass  # logged (and counted) already; caches are rebuilt once Redis is back
        finally:
            sent.set()

    def _execute(self, batch, waiting: int) -> list:
        """Send ``batch``, whose first ``waiting`` commands were sent later: their failure
        is logged, not raised (a cache missing a notice is rebuilt after Redis recovers)."""
        try:
            replies = self._call(batch.execute)
        except StoreUnavailable as exc:
            if waiting:
                log.warning("%d change notice commands not sent: %s", waiting, exc)
            raise
        for reply in replies[:waiting]:
            if isinstance(reply, Exception):
                failure = self._failure(reply)
                if isinstance(failure, StoreUnavailable):  # its recovery will be reported
                    log.warning("a change notice command not applied: %s", failure)
        return replies


class RedisSubscription:
    """redis_port.Subscription on redis-py's PubSub, which holds a connection of the pool."""

    def __init__(self, client: redis.Redis, channels, timeout: float):
        self._pubsub = client.pubsub()
        try:
            self._pubsub.subscribe(*channels)
            self._confirmed(len(channels), timeout)
        except (StoreUnavailable, redis.RedisError) as exc:
            self.close()
            raise lost(exc) from exc

    def _confirmed(self, channels: int, timeout: float) -> None:
        """Wait until Redis confirms the subscriptions: a message published before then
        would be lost, and whoever waits for it would wait in vain."""
        deadline = time.monotonic() + timeout
        while channels:
            message = self._pubsub.get_message(timeout=max(0.0, deadline - time.monotonic()))
            if message is None:
                raise StoreUnavailable("subscription not confirmed")
            channels -= message["type"] == "subscribe"

    def get(self, timeout: float) -> Message | None:
        try:
            message = self._pubsub.get_message(timeout=timeout)
        except redis.RedisError as exc:
            raise lost(exc) from exc
        if message is None:
            return None
        if message["type"] != "message":
            return Message(None, "")
        return Message(message["channel"].decode(), message["data"].decode())

    def ping(self) -> None:
        try:
            self._pubsub.ping()
        except redis.RedisError as exc:
            raise lost(exc) from exc

    def close(self) -> None:
        self._pubsub.close()


def lost(error: Exception) -> StoreUnavailable:
    """What a subscription raises for ``error``: it has to be made again."""
    return error if isinstance(error, StoreUnavailable) else StoreUnavailable(str(error))
