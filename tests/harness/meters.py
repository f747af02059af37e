"""Figures from this process's own metrics (an app under test, not a server)."""

from prometheus_client import generate_latest

from scoreboard.core.meters import REGISTRY

from .servers import sample_sum


def redis_errors(**labels) -> float:
    """Redis commands refused so far in this process (``kind``: redis-py's exception
    class)."""
    return sample_sum(generate_latest(REGISTRY).decode(), "scoreboard_redis_errors_total",
                      **labels)


def jwks_fetches(**labels) -> float:
    """Fetches of identity providers' keys so far in this process (``outcome``)."""
    return sample_sum(generate_latest(REGISTRY).decode(), "scoreboard_jwks_fetches_total",
                      **labels)
