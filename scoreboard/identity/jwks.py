"""The identity provider's signing keys, read from its JWKS document (``JWT_JWKS_URL``).

PyJWT's ``PyJWKClient`` fetches the document and parses its keys; this module decides when
it fetches. The client's own caches are left off: its ``get_signing_key`` holds one lock
across the network fetch, so under gevent every request naming a key would queue behind a
slow provider, and its set cache, once expired, is fetched again by every request that
finds it so.

How no request is held by another's fetch (gunicorn's gevent worker monkey-patches
``threading``, so the Thread, Lock and Event below are gevent's there):

- A request reads the keys without a lock: each successful fetch replaces the dict whole.
- A fetch runs in a thread of its own (a greenlet under gevent). The lock is held only to
  decide whether to start one and to publish its result, never across I/O, so under gevent
  its holder never yields while holding it and no request ever waits for it.
- Keys 80% into their cache time are fetched again in the background: under steady
  traffic they are replaced before they expire, and a withdrawn key is refused by then.
- A request waits for a fetch only when its answer hangs on it: its ``kid`` is not held, or
  the keys are past their cache time (no request came to refresh them ahead) while the
  provider answered the last fetch. It waits on that fetch's Event, never past
  ``JWT_JWKS_TIMEOUT_SECONDS`` after the fetch began.
- A fetch starts at most once per ``JWT_JWKS_REFETCH_SECONDS``, except the one refresh per
  cache time: a flood of unknown kids costs one fetch per that interval and worker, and the
  requests it brings meanwhile are refused at once.
- A failed fetch (no answer in time, an error status, garbage, no usable key) keeps the keys
  held: tokens they sign keep working, past the cache time too and without waiting, and
  unknown kids are refused (401).
"""

import logging
import threading
import time

from jwt import (
    InvalidTokenError,
    PyJWK,
    PyJWKClient,
    PyJWKClientConnectionError,
    PyJWTError,
)

from config import PUBLIC_KEY_ALGORITHMS

from ..core.meters import JWKS_FETCHES

log = logging.getLogger(__name__)

# What /readyz says of the keys: the provider answered the latest fetch; it did not, and the
# keys of an earlier one are in use; no fetch has succeeded yet.
OK, STALE, UNAVAILABLE = "ok", "stale", "unavailable"
OUTCOMES = ("ok", "unreachable", "invalid")
# Keys this far into their cache time are fetched again in the background, so that under
# steady traffic they are replaced before they expire and no request waits for a refresh.
REFRESH_AHEAD = 0.8


class KeySet:
    """One app's copy of the provider's signing keys for its one algorithm, by ``kid``."""

    def __init__(self, url: str, algorithm: str, *, cache_seconds: float,
                 refetch_seconds: float, timeout: float):
        self._client = PyJWKClient(url, cache_jwk_set=False, timeout=timeout)
        self._algorithm = algorithm
        self._cache_seconds = cache_seconds
        self._refetch_seconds = refetch_seconds
        self._timeout = timeout
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at = None  # when the fetch that got them began (time.monotonic)
        self._tried_at = float("-inf")  # when the latest fetch began
        self.failure = None  # why the latest fetch failed; None when it did not
        self._fetching = None  # the fetch under way
        self._lock = threading.Lock()
        for outcome in OUTCOMES:
            JWKS_FETCHES.labels(outcome)  # shown from the start, at 0

    def verifying_key(self, header: dict) -> PyJWK:
        """The key to verify a token with the header ``header`` (Flask-JWT-Extended's
        ``decode_key_loader``). Only its ``alg`` and ``kid`` are read: ``jku``, ``x5u``,
        ``jwk`` and any other pointer to keys elsewhere are ignored. Raises
        InvalidTokenError (401) when the provider holds no key of that ``kid`` for the
        configured algorithm."""
        kid = header.get("kid")
        # A token of another algorithm would be refused anyway: it prompts no fetch.
        usable = isinstance(kid, str) and header.get("alg") == self._algorithm
        key = self.key(kid) if usable else None
        if key is None:
            raise InvalidTokenError("no signing key of the identity provider has this kid")
        return key

    def key(self, kid: str) -> PyJWK | None:
        """The key named ``kid``, fetching the keys again when it is unknown or they near
        their cache time (both within the limits above); None when there is none."""
        now = time.monotonic()
        keys, age = self._keys, self._age(now)
        if kid in keys and age < self._cache_seconds:
            if age >= self._cache_seconds * REFRESH_AHEAD:
                self._start_fetch(now)  # in the background: nobody waits for it
            return keys[kid]
        fetch = self._start_fetch(now)
        if fetch is not None and (kid not in keys or self.failure is None):
            fetch.wait()
        return self._keys.get(kid)

    def status(self) -> str:
        """OK, STALE or UNAVAILABLE (for /readyz). Without keys yet it fetches them, and
        waits for that as a request would; keys near their cache time are fetched again
        in the background."""
        now = time.monotonic()
        if self._age(now) >= self._cache_seconds * REFRESH_AHEAD:
            fetch = self._start_fetch(now)
            if fetch is not None and not self._keys:
                fetch.wait()
        if not self._keys:
            return UNAVAILABLE
        return OK if self.failure is None else STALE

    def _age(self, now: float) -> float:
        return float("inf") if self._fetched_at is None else now - self._fetched_at

    def _start_fetch(self, now: float) -> "_Fetch | None":
        """The fetch under way, or a new one if one may start now; None otherwise."""
        with self._lock:
            if self._fetching is not None or not self._may_fetch(now):
                return self._fetching
            fetch = self._fetching = _Fetch(now + self._timeout)
            self._tried_at = now
        # Started outside the lock: starting a thread waits for it, which under gevent yields.
        threading.Thread(target=self._fetch, args=(fetch, now), name="jwks-fetch",
                         daemon=True).start()
        return fetch

    def _may_fetch(self, now: float) -> bool:
        if self.failure is None and self._age(now) >= self._cache_seconds * REFRESH_AHEAD:
            # The first fetch, or the refresh once per cache time after a successful one:
            # no request can bring either sooner.
            return True
        # A kid the keys lack, or a retry after a failure: at most once per interval.
        return now - self._tried_at >= self._refetch_seconds

    def _fetch(self, fetch: "_Fetch", began: float) -> None:
        read = None
        try:
            read = self._read()
        finally:
            # Whatever happened, this fetch is over: the next may start, and waiters go on.
            with self._lock:
                if read is not None:
                    keys, self.failure, _ = read
                    if keys:
                        self._keys, self._fetched_at = keys, began
                self._fetching = None
            fetch.done.set()
        _, failure, outcome = read
        JWKS_FETCHES.labels(outcome).inc()
        if failure is not None:
            log.warning("fetching the identity provider's keys failed (%s): %d held keys "
                        "stay in use", failure, len(self._keys))

    def _read(self) -> tuple[dict[str, PyJWK], str | None, str]:
        """The provider's keys for our algorithm by kid, why there are none (or None), and
        the fetch's outcome for the metrics."""
        keys = {}
        try:
            for key in self._client.get_signing_keys(refresh=True):
                if key.algorithm_name == self._algorithm:
                    keys.setdefault(key.key_id, key)  # the first of a kid, as PyJWKClient
        except (PyJWKClientConnectionError, OSError) as error:  # OSError: a reset while read
            return {}, str(error), "unreachable"
        except (PyJWTError, ValueError) as error:  # ValueError: not JSON, or not UTF-8
            return {}, str(error) or type(error).__name__, "invalid"
        if not keys:
            return {}, f"the document holds no {self._algorithm} signing key", "invalid"
        return keys, None, "ok"


class _Fetch:
    """A fetch under way, which requests wait for until its deadline."""

    def __init__(self, deadline: float):
        self.deadline = deadline
        self.done = threading.Event()

    def wait(self) -> None:
        self.done.wait(max(0.0, self.deadline - time.monotonic()))


def from_config(config) -> KeySet | None:
    """The app's KeySet when ``JWT_JWKS_URL`` is set; None otherwise."""
    url = config.get("JWT_JWKS_URL")
    if not url:
        return None
    algorithm = config["JWT_ALGORITHM"]
    if algorithm not in PUBLIC_KEY_ALGORITHMS:
        raise ValueError(f"JWT_JWKS_URL holds public keys: set JWT_ALGORITHM to the one your "
                         f"provider signs with ({', '.join(PUBLIC_KEY_ALGORITHMS)}), "
                         f"not {algorithm!r}")
    if config.get("JWT_PUBLIC_KEY"):
        raise ValueError("Set JWT_JWKS_URL or JWT_PUBLIC_KEY, not both")
    timings = {name: config[name] for name in (
        "JWT_JWKS_CACHE_SECONDS", "JWT_JWKS_REFETCH_SECONDS", "JWT_JWKS_TIMEOUT_SECONDS")}
    for name, value in timings.items():
        if not value > 0:
            raise ValueError(f"{name} must be more than 0, not {value!r}")
    cache, refetch, timeout = timings.values()
    return KeySet(url, algorithm, cache_seconds=cache, refetch_seconds=refetch, timeout=timeout)
