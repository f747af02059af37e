"""Time windows of the board: the UTC day and the ISO week (UTC) a moment falls in."""

import re
from datetime import date, datetime, timedelta

DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
WEEK = re.compile(r"(\d{4})-W(\d{2})")


def day_key(moment: datetime) -> str:
    return f"day:{moment.date().isoformat()}"


def week_key(moment: datetime) -> str:
    year, week, _ = moment.isocalendar()
    return f"week:{year}-W{week:02d}"


def windows_of(moment: datetime) -> tuple[str, str]:
    """Every window a score gained at ``moment`` counts in (besides all time)."""
    return day_key(moment), week_key(moment)


def window_key(period: str, at: str | None, now: datetime) -> str:
    """The window ``period`` ("day" or "week") names at ``at`` (default: the current one).
    Raises ValueError for a malformed or impossible ``at``."""
    if period == "day":
        if at is None:
            return day_key(now)
        if not DAY.fullmatch(at):
            raise ValueError("at must look like 2026-11-27 for period=day")
        return f"day:{date.fromisoformat(at).isoformat()}"
    if period == "week":
        if at is None:
            return week_key(now)
        match = WEEK.fullmatch(at)
        if not match:
            raise ValueError("at must look like 2026-W48 for period=week")
        date.fromisocalendar(int(match[1]), int(match[2]), 1)  # raises for week 54 and such
        return f"week:{at}"
    raise ValueError("period must be all, week or day")


def window_end(key: str) -> datetime:
    """When the window ``key`` closes (UTC, naive like every time in the database)."""
    kind, _, name = key.partition(":")
    if kind == "day":
        start = date.fromisoformat(name)
        return datetime(start.year, start.month, start.day) + timedelta(days=1)
    year, week = WEEK.fullmatch(name).groups()
    monday = date.fromisocalendar(int(year), int(week), 1)
    return datetime(monday.year, monday.month, monday.day) + timedelta(weeks=1)
