"""Running the service: the ``flask scoreboard`` commands (cli.py) and the traffic simulator
they start (simulate.py), structured logs with request ids (logs.py), /metrics and the
request counts (metrics.py), and the platform's probes (health.py)."""

from . import cli, health, logs, metrics, simulate

__all__ = ["cli", "health", "logs", "metrics", "simulate"]
