"""Current time in UTC, replaceable per app (``config["CLOCK"]``) so tests need not sleep."""

from datetime import UTC, datetime

from flask import current_app


def system_now() -> datetime:
    # Naive UTC: SQLite keeps no time zone, and PostgreSQL columns are timestamp without one.
    return datetime.now(UTC).replace(tzinfo=None)


def now() -> datetime:
    return current_app.config.get("CLOCK", system_now)()


def iso(moment: datetime) -> str:
    """A stored (naive UTC) time as the API writes it: ISO 8601 in milliseconds, with Z."""
    return moment.isoformat(timespec="milliseconds") + "Z"
