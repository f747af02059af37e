"""Figures from this process's own metrics (an app under test, not a server)."""

from prometheus_client import generate_latest

from scoreboard.core.meters import REGISTRY

from .servers import sample_sum


def redis_errors(**labels) -> float:
    """Redis commands refused so far in this process (``kind``: redis-py's exception
    class)."""
    return sample_sum(generate_latest(REGISTRY).decode(), "scoreboard_redis_errors_total",
                      **labels)
