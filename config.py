"""Settings, read only from the environment, each with a safe default or a clear error."""

import ipaddress
import os
import re
from urllib.parse import urlsplit

# Published here, so anyone can sign tokens with it: check() lets it serve this machine only.
DEV_SECRET = "dev-only-insecure-secret-change-me"
# Variables a hosting platform sets in every process it runs, and the platform: there the
# service is reachable by others whatever address it listens on (a router or a sidecar
# forwards to it). PORT is not one: developers set it too (`PORT=9000 make run`), and a
# platform that only sets PORT reaches the service through a non-loopback bind, which
# check() refuses by itself.
PLATFORMS = {
    "DYNO": "Heroku",
    "KUBERNETES_SERVICE_HOST": "Kubernetes",
    "K_SERVICE": "Cloud Run",
    "FLY_APP_NAME": "Fly.io",
    "RENDER": "Render",
    "RAILWAY_ENVIRONMENT": "Railway",
    "WEBSITE_SITE_NAME": "Azure App Service",
}


# The algorithms of tokens verified with a public key: JWT_PUBLIC_KEY's, or the keys of the
# identity provider's JWKS (JWT_JWKS_URL). Any other but HS256 is refused.
PUBLIC_KEY_ALGORITHMS = ("RS256", "ES256", "EdDSA")


class ConfigError(RuntimeError):
    """The environment asks for something the service cannot run with."""


def database_url(raw: str | None) -> str | None:
    """Accept Heroku's ``postgres://`` and plain ``postgresql://`` URLs, and pin them to
    psycopg2 (SQLAlchemy 2.1 would otherwise pick psycopg 3)."""
    for scheme in ("postgres://", "postgresql://"):
        if raw and raw.startswith(scheme):
            return "postgresql+psycopg2://" + raw[len(scheme):]
    return raw or None


def _int(env, name, default):
    value = env.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {value!r}") from None


def _at_least_one(env, name, default):
    value = _int(env, name, default)
    if value < 1:
        raise ConfigError(f"{name} must be at least 1, not {value}")
    return value


def _one_of(env, name, choices):
    """The setting's value, which must be one of ``choices``; the first is the default."""
    value = (env.get(name) or choices[0]).lower()
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, not {env.get(name)!r}")
    return value


def _redis_prefix(env) -> str:
    """A Redis Cluster hashes a key by its first ``{...}``: braces in the prefix, which
    starts every key, would take the place of the views' hash tags (slots.py)."""
    prefix = env.get("REDIS_PREFIX", "scoreboard:")
    if "{" in prefix or "}" in prefix:
        raise ConfigError(f"REDIS_PREFIX may not contain {{ or }} (a Redis Cluster's hash "
                          f"tags), not {prefix!r}")
    return prefix


def _jwks_url(env) -> str | None:
    url = env.get("JWT_JWKS_URL") or None
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ConfigError(f"JWT_JWKS_URL must be the https:// address of your identity "
                              f"provider's JWKS document, not {url!r}")
    return url


# An origin as a browser writes it in its Origin header: scheme, host name or IPv4 address,
# and a port unless it is the scheme's default. No IPv6 literals: Flask-CORS would read their
# brackets as a regular expression.
ORIGIN = re.compile(r"(https?)://[a-z0-9-]+(?:\.[a-z0-9-]+)*(?::([1-9][0-9]{0,4}))?")
DEFAULT_PORTS = {"http": "80", "https": "443"}


def _is_origin(text: str) -> bool:
    match = ORIGIN.fullmatch(text)
    return bool(match) and (match[2] is None or (
        int(match[2]) <= 65535 and match[2] != DEFAULT_PORTS[match[1]]))


def _origins(env, name) -> tuple[str, ...]:
    """A comma-separated list of origins. One that no browser would send (a path, a trailing
    slash, a default port, a wildcard) would never match, so it is refused at start-up."""
    origins = [o.strip() for o in env.get(name, "").split(",") if o.strip()]
    for origin in origins:
        if not _is_origin(origin.lower()):
            raise ConfigError(f"{name} must list origins such as https://game.example.com or "
                              f"http://localhost:3000 (no path, no default port), not {origin!r}")
    return tuple(origin.lower() for origin in origins)


# Each group a player is in adds its three views (all time, day, week) to every change
# notice of that player's, which the broker's Lua script unpacks: Redis's Lua unpacks fewer
# than 8,000 values. A player in this many groups at most stays well within (about 3,000).
MOST_GROUPS_PER_PLAYER = 1000


def _group_caps(env) -> dict:
    """The limits of friend groups. Owners invite and players consent, but each player
    may still be in many: the caps bound what every one of their updates costs."""
    caps = {
        "GROUP_MAX_OWNED": _at_least_one(env, "GROUP_MAX_OWNED", 10),  # groups one creates
        "GROUP_MAX_JOINED": _at_least_one(env, "GROUP_MAX_JOINED", 30),  # others' joined
        "GROUP_MAX_MEMBERS": _at_least_one(env, "GROUP_MAX_MEMBERS", 500),  # owner included
        "GROUP_MAX_INVITATIONS": _at_least_one(env, "GROUP_MAX_INVITATIONS", 100),  # pending
    }
    if caps["GROUP_MAX_OWNED"] + caps["GROUP_MAX_JOINED"] > MOST_GROUPS_PER_PLAYER:
        raise ConfigError(f"GROUP_MAX_OWNED and GROUP_MAX_JOINED may add up to at most "
                          f"{MOST_GROUPS_PER_PLAYER}: a player's every update names each "
                          f"of their groups")
    return caps


def _retention(env) -> dict:
    """How many whole days of the audit log stay in the database (None: every day), and
    the folder the upkeep archives older days to (play/archive.py)."""
    days = env.get("AUDIT_RETENTION_DAYS") or None
    folder = env.get("AUDIT_ARCHIVE_DIR") or None
    if days is not None:
        days = _at_least_one(env, "AUDIT_RETENTION_DAYS", None)
        if folder is None:
            raise ConfigError("Must set AUDIT_ARCHIVE_DIR, where the audit log's archives go, "
                              "to set AUDIT_RETENTION_DAYS: no event leaves the database "
                              "without a file to hold it")
        if env.get("DYNO"):
            raise ConfigError("AUDIT_RETENTION_DAYS cannot be used on Heroku: a dyno's disk, "
                              "AUDIT_ARCHIVE_DIR with it, is wiped at each restart; run "
                              "`flask scoreboard archive` where its file is kept")
    return {"AUDIT_RETENTION_DAYS": days, "AUDIT_ARCHIVE_DIR": folder}


def from_env(env=None) -> dict:
    """Build the Flask config mapping from environment variables."""
    env = os.environ if env is None else env
    db_url = database_url(env.get("DATABASE_URL"))
    redis_url = env.get("REDIS_URL") or None
    production = env.get("SCOREBOARD_ENV", "").lower() == "production" or db_url is not None
    algorithm = env.get("JWT_ALGORITHM", "HS256")
    return {
        "PRODUCTION": production,
        # Where the process runs, as "Heroku (DYNO is set)"; None on a machine of one's own.
        "PLATFORM": next((f"{name} ({variable} is set)"
                          for variable, name in PLATFORMS.items() if env.get(variable)), None),
        "SQLALCHEMY_DATABASE_URI": db_url,  # None: SQLite in the instance folder
        # None: in-process cache, broker and limits. redis+cluster://host:port,host:port
        # (rediss+cluster:// for TLS): a Redis Cluster (adapters/cluster_store.py).
        "REDIS_URL": redis_url,
        # A stalled database answers 503 after this long instead of holding requests.
        "DATABASE_LOCK_TIMEOUT_MS": _int(env, "DATABASE_LOCK_TIMEOUT_MS", 5000),
        "DATABASE_STATEMENT_TIMEOUT_MS": _int(env, "DATABASE_STATEMENT_TIMEOUT_MS", 15000),
        # PostgreSQL connections per worker and per engine (the session's, the write path's).
        "DATABASE_POOL_SIZE": _int(env, "DATABASE_POOL_SIZE", 10),
        "REDIS_PREFIX": _redis_prefix(env),
        # Per worker (to each node of a cluster) for the store; the subscription takes one
        # more, the rate limits up to 4 more (scoreboard/__init__.py). Bounded, see store.py.
        "REDIS_MAX_CONNECTIONS": _int(env, "REDIS_MAX_CONNECTIONS", 10),
        # A Redis reply slower than this counts as Redis down: the database answers instead.
        "REDIS_SOCKET_TIMEOUT_SECONDS": float(env.get("REDIS_SOCKET_TIMEOUT_SECONDS") or 1.0),
        # After a Redis error, serve from the database this long before trying Redis again.
        "REDIS_RETRY_SECONDS": float(env.get("REDIS_RETRY_SECONDS") or 1.0),
        # Whether a rediss:// server's certificate must be valid. Heroku Redis presents a
        # self-signed one: ``none`` still encrypts, but no longer proves whom it talks to.
        "REDIS_SSL_CERT_REQS": _one_of(env, "REDIS_SSL_CERT_REQS", ("required", "none")),
        "JWT_SECRET_KEY": env.get("JWT_SECRET_KEY") or DEV_SECRET,
        "JWT_PUBLIC_KEY": env.get("JWT_PUBLIC_KEY") or None,
        # The identity provider's keys instead (identity/jwks.py): kept this long, fetched
        # again at most this often for a kid they lack, each fetch given up after this long.
        "JWT_JWKS_URL": _jwks_url(env),
        "JWT_JWKS_CACHE_SECONDS": float(env.get("JWT_JWKS_CACHE_SECONDS") or 300),
        "JWT_JWKS_REFETCH_SECONDS": float(env.get("JWT_JWKS_REFETCH_SECONDS") or 5),
        "JWT_JWKS_TIMEOUT_SECONDS": float(env.get("JWT_JWKS_TIMEOUT_SECONDS") or 3),
        "JWT_ALGORITHM": algorithm,
        "JWT_ISSUER": env.get("JWT_ISSUER") or None,
        "JWT_AUDIENCE": env.get("JWT_AUDIENCE") or None,
        "JWT_LEEWAY": _int(env, "JWT_LEEWAY", 10),
        "RATELIMIT_IP": env.get("RATELIMIT_IP", "600/minute"),
        "RATELIMIT_START": env.get("RATELIMIT_START", "60/minute"),
        "RATELIMIT_UPDATE": env.get("RATELIMIT_UPDATE", "60/minute"),
        # Region codes players may have; empty means every ISO 3166-1 alpha-2 code.
        "REGIONS": frozenset(c.strip() for c in env.get("REGIONS", "").split(",") if c.strip()),
        # Rebuilding a view's rank set (after a Redis restart) reads the whole view: in the
        # background in production; tests ask for it inline so they can wait for it.
        "RANK_REBUILD_IN_BACKGROUND": env.get("RANK_REBUILD_IN_BACKGROUND", "1") != "0",
        **_group_caps(env),
        # Tokens whose role claim is one of these may moderate (comma-separated).
        "ADMIN_ROLES": frozenset(r.strip() for r in env.get("ADMIN_ROLES", "admin").split(",")
                                 if r.strip()),
        # The largest change one adjustment may make to a score, either way.
        "ADJUST_MAX": _int(env, "ADJUST_MAX", 1_000_000),
        "TICKET_TTL_SECONDS": _int(env, "TICKET_TTL_SECONDS", 900),
        # How long after its expiry a ticket is kept, so that a repeat of its completed
        # update still answers the score it produced (play/upkeep.py).
        "TICKET_REPLAY_SECONDS": _int(env, "TICKET_REPLAY_SECONDS", 86400),
        # Day partitions kept ready ahead of today (PostgreSQL), and how often each worker
        # looks at them (one instance at a time does it; 0: only `flask scoreboard maintain`).
        "PARTITION_DAYS_AHEAD": _at_least_one(env, "PARTITION_DAYS_AHEAD", 7),
        "MAINTAIN_INTERVAL_SECONDS": _int(env, "MAINTAIN_INTERVAL_SECONDS", 3600),
        **_retention(env),
        "TOP_CACHE_TTL_SECONDS": _int(env, "TOP_CACHE_TTL_SECONDS", 300),
        # A worker serves its copy of a board until a change notice retires it, and never
        # longer than this, in case a notice is lost (the subscription was down).
        "TOP_LOCAL_MAX_AGE_SECONDS": float(env.get("TOP_LOCAL_MAX_AGE_SECONDS") or 1.0),
        "BOARD_REFRESH_SECONDS": float(env.get("BOARD_REFRESH_SECONDS") or 0.2),
        "MAX_CONTENT_LENGTH": _int(env, "MAX_BODY_BYTES", 4096),
        "STREAM_HEARTBEAT_SECONDS": float(env.get("STREAM_HEARTBEAT_SECONDS") or 15),
        "STREAM_LIFETIME_SECONDS": float(env.get("STREAM_LIFETIME_SECONDS") or 600),
        "STREAM_RETRY_MS": _int(env, "STREAM_RETRY_MS", 3000),
        # How long a stream ticket (POST /api/streams/tickets) may wait to be used, once.
        "STREAM_TICKET_SECONDS": _at_least_one(env, "STREAM_TICKET_SECONDS", 30),
        "STREAM_MAX_PER_IP": _int(env, "STREAM_MAX_PER_IP", 20),
        # At most this often a stream gets a frame: a burst of updates becomes one.
        "STREAM_MIN_INTERVAL_SECONDS": float(env.get("STREAM_MIN_INTERVAL_SECONDS") or 0.2),
        # How often a worker without its broker subscription reads the board itself.
        "STREAM_POLL_SECONDS": float(env.get("STREAM_POLL_SECONDS") or 2),
        # How often a worker looks for streams whose browser has gone away.
        "STREAM_REAP_SECONDS": float(env.get("STREAM_REAP_SECONDS") or 2),
        "STREAM_WRITE_TIMEOUT_SECONDS": float(env.get("STREAM_WRITE_TIMEOUT_SECONDS") or 10),
        # The kernel's send buffer of each stream's socket. Left to itself it grows to 4 MB
        # for a browser that stops reading; frames are a few KB and come a few a second.
        "STREAM_SEND_BUFFER_BYTES": _int(env, "STREAM_SEND_BUFFER_BYTES", 65536),
        "LOG_LEVEL": env.get("LOG_LEVEL", "INFO").upper(),
        # How many proxies (Heroku's router: 1) stand before us and set X-Forwarded-For.
        "PROXY_HOPS": _int(env, "PROXY_HOPS", 0),
        # Pages of these origins may call the API and open the stream (cors.py); none by default.
        "CORS_ORIGINS": _origins(env, "CORS_ORIGINS"),
        # Pages of these origins may show the board in an iframe (/embed); none by default.
        "EMBED_ORIGINS": _origins(env, "EMBED_ORIGINS"),
    }


def is_loopback(host: str) -> bool:
    """Whether a server listening on ``host`` (an address or a name, as gunicorn and
    ``flask run`` take it) is reachable from this machine only. Only ``localhost`` and
    loopback addresses are: any other name may resolve to a public address, and a Unix
    socket is what a public proxy in front would talk to."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check(config: dict, hosts=()) -> None:
    """Refuse settings that would be unsafe where others can reach the service: in
    production, on a hosting platform, or listening on ``hosts`` other than loopback. There
    the development secret, which anyone can read above, would let anyone sign tokens."""
    public = [host for host in hosts if not is_loopback(host)]
    if config.get("PRODUCTION"):
        where = "in production"
    elif config.get("PLATFORM"):
        where = f"on {config['PLATFORM']}"
    elif public:
        shown = public[0] or "every address"
        where = f"to listen on {shown}, which is not a loopback address"
    else:
        return
    jwks_url = config.get("JWT_JWKS_URL")
    if jwks_url:
        parts = urlsplit(jwks_url)
        if parts.scheme != "https" and not is_loopback(parts.hostname or ""):
            raise ConfigError(f"JWT_JWKS_URL must be an https:// address {where}: keys fetched "
                              "over plain HTTP could be swapped by anyone on the way")
        return  # tokens are verified with the provider's public keys, never with the secret
    uses_public_key = config["JWT_ALGORITHM"] in PUBLIC_KEY_ALGORITHMS
    if uses_public_key and not config.get("JWT_PUBLIC_KEY"):
        raise ConfigError(f"Must set JWT_JWKS_URL or JWT_PUBLIC_KEY to verify "
                          f"{config['JWT_ALGORITHM']} tokens {where}")
    secret = config.get("JWT_SECRET_KEY")
    if not uses_public_key and (not secret or secret == DEV_SECRET or len(secret) < 32):
        raise ConfigError(
            f"Must set JWT_SECRET_KEY to a random value of at least 32 characters {where}: "
            "the development secret is public, so anyone could sign tokens with it"
        )
