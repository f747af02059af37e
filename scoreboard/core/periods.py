"""Time windows of the board: the UTC day and the ISO week (UTC) a moment falls in."""

import functools
import re
from datetime import date, datetime, timedelta

# How a past window is named (?at=), for each period that has windows: only ASCII digits,
# and months, days and weeks in their ranges. A name of this form may still name no window
# (2026-02-30, or week 53 of a year of 52): NoSuchWindow.
DAY = re.compile(r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])")
WEEK = re.compile(r"([0-9]{4})-W(0[1-9]|[1-4][0-9]|5[0-3])")
NAMES = {"day": DAY, "week": WEEK}


class NoSuchWindow(LookupError):
    """A window named in the right form that the calendar does not have."""


def day_key(moment: date) -> str:
    """The day window of ``moment`` (a date, or a datetime)."""
    return f"day:{moment.isoformat()[:10]}"


def day_start(moment: datetime) -> datetime:
    """The start of the UTC day ``moment`` falls in: where a daily limit starts afresh."""
    return datetime(moment.year, moment.month, moment.day)


def week_key(moment: date) -> str:
    year, week, _ = moment.isocalendar()
    return f"week:{year}-W{week:02d}"


def windows_of(moment: datetime) -> tuple[str, str]:
    """Every window a score gained at ``moment`` counts in (besides all time)."""
    return _windows_of_day(moment.date())


@functools.lru_cache(maxsize=64)
def _windows_of_day(day: date) -> tuple[str, str]:
    # Remembered: a write asks several times, and a day has one answer.
    return day_key(day), week_key(day)


def window_key(period: str, at: str | None, now: datetime) -> str:
    """The window ``period`` ("day" or "week") names at ``at`` (default: the current one).
    Raises ValueError for a malformed ``at``, NoSuchWindow for one the calendar lacks."""
    if period not in NAMES:
        raise ValueError("period must be all, week or day")
    if at is None:
        return day_key(now) if period == "day" else week_key(now)
    match = NAMES[period].fullmatch(at)
    if not match:
        raise ValueError(f"at must look like {'2026-11-27' if period == 'day' else '2026-W48'}"
                         f" for period={period}")
    try:
        if period == "day":
            date.fromisoformat(at)
        else:
            date.fromisocalendar(int(match[1]), int(match[2]), 1)
    except ValueError:
        raise NoSuchWindow(f"There is no {period} {at}.") from None
    return f"{period}:{at}"


def window_end(key: str) -> datetime:
    """When the window ``key`` closes (UTC, naive like every time in the database)."""
    kind, _, name = key.partition(":")
    if kind == "day":
        return day_start(datetime.fromisoformat(name)) + timedelta(days=1)
    year, week = WEEK.fullmatch(name).groups()
    monday = date.fromisocalendar(int(year), int(week), 1)
    return datetime(monday.year, monday.month, monday.day) + timedelta(weeks=1)
