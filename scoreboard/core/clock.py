"""Current time in UTC, replaceable per app (``config["CLOCK"]``) so tests need not sleep."""

from datetime import UTC, datetime

from flask import current_app


def system_now() -> datetime:
    # Naive UTC: SQLite keeps no time zone, and PostgreSQL columns are timestamp without one.
    return datetime.now(UTC).replace(tzinfo=None)


def now(config=None) -> datetime:
    """The app's time: ``config``'s app, or else the current one."""
    return (current_app.config if config is None else config).get("CLOCK", system_now)()


def iso(moment: datetime) -> str:
    """A stored (naive UTC) time as the API writes it: ISO 8601 in milliseconds, with Z."""
    return moment.isoformat(timespec="milliseconds") + "Z"
