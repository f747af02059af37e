"""Rate limits. Flask-Limiter, one per app, keeps the per-address limit on every route but
the hot ones (``init_limiter``); it keeps its own hooks, and its request filter
(``limited_elsewhere``) leaves the hot routes to this module, where its per-request
machinery (measured at a fifth of a write's CPU, and more than a board read costs in all)
and its round trip per limit are too dear.

- Board reads count per address in each worker's memory (with N workers an address may read
  N times ``RATELIMIT_IP``); streams are limited by the cap on open streams per address.
- Probes (/healthz, /readyz, /metrics) are never limited.
- Preflights (OPTIONS) are never counted: Flask answers them without running a view, and
  a browser sends one ahead of a cross-origin write, which is counted.
- The write paths (start, update) pass a gate: one Redis call says whether the token is
  revoked and counts the address and the player, in windows every worker shares. The
  address is counted for every request to them: by the gate when a request reaches it, and
  by ``counts_refusals`` for one refused earlier (a malformed body, a bad token), which
  becomes a 429 once the address is over its limit. While Redis is away each process counts on its
  own (the store logs and counts the outage) and revocations are read from the database
  (auth.is_revoked).

Counts use fixed windows that start with their first hit. The ``limits`` library parses the
settings; its memory storage is not used, as it re-arms a timer thread (a greenlet under
gevent) to expire counters, which measured at several per cent of a worker's time."""

import functools
import math
import time
from dataclasses import dataclass

from flask import Flask, current_app, g, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import parse

from ..adapters.blocklist import RedisBlocklist
from ..adapters.store import StoreUnavailable
from ..core.errors import ApiError
from ..identity import auth

READS = frozenset({"api.top_scores"})
WRITES = {"api.start_action": "RATELIMIT_START", "api.update_score": "RATELIMIT_UPDATE"}
# Probes are never limited: a platform's router and a Prometheus server poll them from few
# addresses, and a refused probe would take a healthy instance out of service.
PROBES = frozenset({"health.healthz", "health.readyz", "health.prometheus_metrics"})
# Routes Flask-Limiter leaves alone: counted here, capped per address (streams), or probes.
LEFT_ALONE = READS | set(WRITES) | {"stream.scores_stream"} | PROBES
_KEY = "scoreboard.gate"
_LIMITER = "scoreboard.limiter"


class FixedWindows:
    """Hits per key in fixed windows of ``period`` seconds, in this process."""

    def __init__(self, period: int):
        self.period = period
        self._counts = {}  # key -> (window start, hits)

    def hit(self, key: str) -> tuple[int, int]:
        """One more hit; the key's hits in its window and the seconds the window has left."""
        now = time.monotonic()
        start, hits = self._counts.get(key, (now, 0))
        if now - start >= self.period:
            start, hits = now, 0
        if len(self._counts) > 100_000:  # a flood of addresses: forget the finished windows
            self._counts = {k: v for k, v in self._counts.items() if now - v[0] < self.period}
        self._counts[key] = (start, hits + 1)
        return hits + 1, max(1, math.ceil(start + self.period - now))


class Limits:
    """The settings' limits, and this process's own counts of them."""

    def __init__(self, config):
        self.rates = {name: parse(config[name])
                      for name in ("RATELIMIT_IP", *WRITES.values())}
        self._local = {name: FixedWindows(rate.get_expiry()) for name, rate in self.rates.items()}

    def count_locally(self, name: str, key: str) -> None:
        """One hit on limit ``name`` for ``key`` in this process; 429 past the limit."""
        _refuse_past(self.rates[name], *self._local[name].hit(key))

    def fall_back(self, counters) -> list[tuple[int, int]]:
        """One hit on each (limit name, key) counter in this process: its hits and the
        seconds its window has left."""
        return [self._local[name].hit(key) for name, key in counters]


@dataclass(frozen=True)
class Gate:
    """The write paths' gate: the limits, and Redis's shared copy of counts and revocations
    (None on the embedded default)."""

    limits: Limits
    blocklist: RedisBlocklist | None

    def count(self, counters, jti: str = ""):
        """One hit on each (limit name, key) counter, and whether ``jti`` is revoked (None:
        unknown, or no ``jti``), in one Redis round trip; in this process without Redis or
        while it is away."""
        if self.blocklist is not None:
            try:
                return self.blocklist.admit(jti, [(key, self.limits.rates[name].get_expiry())
                                                  for name, key in counters])
            except StoreUnavailable:
                pass
        return None, self.limits.fall_back(counters)

    def pass_gate(self, setting: str) -> dict:
        """Authenticate a write and pass its gate: 401 for a bad or revoked token, 429 for an
        address or a player over its limit (PlayerOverLimit, for the caller to audit)."""
        kept = g._get_current_object()  # one look-up through the proxy (auth.authenticate)
        kept.revocation_at_gate = True  # auth's own blocklist look-up is left to the count below
        claims = auth.authenticate()
        kept.gated = True
        counters = [("RATELIMIT_IP", f"ip:{request.remote_addr}"),
                    (setting, f"{setting.lower()}:{claims['sub']}")]
        jti = claims.get("jti")  # checked by authenticate; None names no revocation
        revoked, counts = self.count(counters, jti or "")
        if revoked or (revoked is None and jti is not None and auth.is_revoked(jti)):
            raise ApiError(401, auth.REVOKED)
        (ip_hits, ip_left), (hits, left) = counts
        _refuse_past(self.limits.rates["RATELIMIT_IP"], ip_hits, ip_left)
        if hits > self.limits.rates[setting].amount:
            raise PlayerOverLimit(claims["sub"], left)
        return claims

    def count_refusal(self) -> None:
        """One hit on the address of a write refused before its gate; 429 past the limit."""
        _, [(hits, left)] = self.count([("RATELIMIT_IP", f"ip:{request.remote_addr}")])
        _refuse_past(self.limits.rates["RATELIMIT_IP"], hits, left)


class PlayerOverLimit(ApiError):
    """A player over their limit: audited by the write path, unlike an address's 429."""

    def __init__(self, user_id: str, retry_after: int):
        super().__init__(429, retry_after=retry_after)
        self.user_id = user_id


def _refuse_past(rate, hits: int, seconds_left: int) -> None:
    if hits > rate.amount:
        raise ApiError(429, retry_after=seconds_left)


def init_app(app: Flask, limits: Limits, blocklist: RedisBlocklist | None) -> None:
    app.extensions[_KEY] = Gate(limits, blocklist)


def init_limiter(app: Flask) -> Limiter:
    """Flask-Limiter for every route that ``limited_elsewhere`` does not name."""
    limiter = Limiter(get_remote_address, default_limits=[app.config["RATELIMIT_IP"]])
    limiter.request_filter(limited_elsewhere)
    limiter.init_app(app)
    app.extensions[_LIMITER] = limiter
    return limiter


def of(app: Flask | None = None) -> Gate:
    return (app or current_app).extensions[_KEY]


def limiter(app: Flask | None = None) -> Limiter:
    return (app or current_app).extensions[_LIMITER]


def pass_gate(setting: str) -> dict:
    return of().pass_gate(setting)


def count_read() -> None:
    of().limits.count_locally("RATELIMIT_IP", request.remote_addr or "")


def limited_elsewhere() -> bool:
    """Flask-Limiter's request filter: the routes counted here, capped per address or never
    limited, and preflights."""
    return request.endpoint in LEFT_ALONE or request.method == "OPTIONS"


def counts_refusals(view):
    """Wrap a write's view: a write refused before its gate (a malformed body, a bad token)
    counts against its address too, so a flood of them is refused as one of good requests
    would be. In the view rather than in a hook, as the writes run no hook (writes.py)."""
    @functools.wraps(view)
    def counting(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except Exception:
            if not g.get("gated"):
                of().count_refusal()
            raise
    return counting
