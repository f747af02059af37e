"""Views of the board: all players, a region, a friend group, a day or an ISO week, and the
combinations we serve. Every view is a query over the same tables, in the one order."""

import functools
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import select

from ..core import contract, periods, regions
from ..data.models import GroupMember, User, WindowScore

GLOBAL = "all"
PERIOD = contract.Choice(GLOBAL, *periods.NAMES)
REGION = contract.Region()
GROUP = contract.Text(r"[A-Za-z0-9_-]{1,32}")  # a group's id


@dataclass(frozen=True)
class View:
    """Which players, and which of their scores (all time, or one window's)."""

    window: str | None = None  # "day:2026-11-27" / "week:2026-W48"; None: all time
    region: str | None = None
    group: str | None = None
    # When whoever asked stops being shown this view (UTC): the end of a window asked for as
    # "the current one", or of the token that opened a group's board. Not part of what the
    # view is, so views that differ only here are equal and share caches and channels.
    closes_at: datetime | None = field(default=None, compare=False)
    # The view's name in caches, channels and change notices; made once, as a write names
    # every view it may have moved several times.
    key: str = field(init=False, compare=False, repr=False)

    def __post_init__(self):
        parts = [f"region:{self.region}" if self.region else None,
                 f"group:{self.group}" if self.group else None, self.window]
        object.__setattr__(self, "key", "|".join(p for p in parts if p) or GLOBAL)

    @classmethod
    def from_key(cls, key: str) -> "View":
        """The view whose ``key`` this is (change notices name views by key)."""
        fields = {}
        for part in key.split("|") if key != GLOBAL else ():
            kind, _, name = part.partition(":")
            fields[kind if kind in ("region", "group") else "window"] = (
                name if kind in ("region", "group") else part)
        return cls(**fields)

    def closing_by(self, moment: datetime) -> "View":
        return replace(self, closes_at=min(moment, self.closes_at or moment))

    def seconds_left(self, now: datetime) -> float:
        return float("inf") if self.closes_at is None else (self.closes_at - now).total_seconds()

    def rows(self):
        """The view's players as a subquery with ``id``, ``display_name``, ``score`` and
        ``score_reached_at``, only those with a score in it and not hidden by an admin."""
        if self.window:
            stmt = (
                select(User.id, User.display_name, WindowScore.score,
                       WindowScore.score_reached_at)
                .join(User, User.id == WindowScore.user_id)
                .where(WindowScore.period == self.window, WindowScore.score > 0)
            )
        else:
            stmt = select(User.id, User.display_name, User.score,
                          User.score_reached_at).where(User.score > 0)
        # A filter, not an index of its own: hidden players are few, so a walk down a
        # ranking index skips past them and still stops after a page.
        stmt = stmt.where(User.hidden.is_(False))
        if self.region:
            # A window keeps its own copy of the region, indexed with its scores.
            region = WindowScore.region if self.window else User.region
            stmt = stmt.where(region == self.region)
        if self.group:
            stmt = stmt.join(GroupMember, (GroupMember.user_id == User.id)
                             & (GroupMember.group_id == self.group))
        return stmt.subquery()


ALL = View()


def parse(args, now, config) -> View:
    """The view a query string asks for; ValueError with a reason for one we do not serve,
    periods.NoSuchWindow for a past window the calendar lacks."""
    period = args.get("period", GLOBAL)
    at = args.get("at")
    region, group = args.get("region"), args.get("group")
    if region is not None and group is not None:
        raise ValueError("region and group cannot be combined: a group is already a choice")
    if region is not None and region not in regions.known(config):
        raise ValueError(REGION.message.rstrip("."))
    if group is not None and not GROUP.fits(group):
        raise ValueError("group must be a group's id")
    if period == GLOBAL:
        if at is not None:
            raise ValueError("at goes with period=day or period=week")
        return View(region=region, group=group)
    window = periods.window_key(period, at, now)
    closes_at = periods.window_end(window) if at is None else None  # it follows the clock
    return View(window=window, region=region, group=group, closes_at=closes_at)


def query_schema(config) -> dict:
    """The view's query parameters as one JSON Schema object, which can say how they
    depend on each other as parse() has them: ``at`` only with a period that has windows,
    in that period's form; ``region`` or ``group``, not both."""
    windows = [{"required": ["period", "at"], "properties": {
        "period": {"const": period},
        "at": {"type": "string", "pattern": f"^(?:{form.pattern})$"}}}
        for period, form in periods.NAMES.items()]
    return {
        "type": "object", "additionalProperties": False,
        "properties": {"period": PERIOD.schema(config), "at": {"type": "string"},
                       "region": REGION.schema(config), "group": GROUP.schema(config)},
        "not": {"required": ["region", "group"]},
        "anyOf": [{"not": {"required": ["at"]}}, *windows],
    }


def of_player(region: str | None, groups: tuple, now) -> tuple[View, ...]:
    """Every view a change of this player's score at ``now`` shows in."""
    return in_windows(region, groups, (None, *periods.windows_of(now)))


@functools.lru_cache(maxsize=4096)
def in_windows(region: str | None, groups: tuple, windows: tuple) -> tuple[View, ...]:
    """The views of a player of ``region`` and ``groups`` in each of ``windows`` (None: all
    time). Remembered: every write asks it, and its players share a few answers a day."""
    views = [View(window=w) for w in windows]
    if region:
        views += [View(window=w, region=region) for w in windows]
    views += [View(window=w, group=g) for g in groups for w in windows]
    return tuple(views)
