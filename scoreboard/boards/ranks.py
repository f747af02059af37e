"""A player's own place on a view: rank, and the players just above and below.

With Redis, each public view of the current time (all time, a region, the current day and
week, and a region's) keeps a sorted set of every player on it, so a rank among a million
players costs O(log N). Group views, past windows, the embedded default, and any set not
known to be complete (never built, emptied by a Redis restart, or possibly missing writes
made during an outage) are answered by the database, in the same order, while the set is
rebuilt in the background.
"""

import functools
import logging
import threading
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select

from ..adapters.redis_port import StoreUnavailable
from ..core import clock, order, periods
from ..core.errors import ApiError
from ..data.db import reading
from ..data.models import User
from . import views
from .ports import ports
from .views import View

log = logging.getLogger(__name__)

REBUILD_CLAIM_SECONDS = 300


def _set_views(region, now) -> tuple[View, ...]:
    """The views with rank sets that a player of ``region`` is on at ``now``: all of theirs
    but group views."""
    return views.of_player(region, (), now)


def _lifetime(view: View, now: datetime) -> int | None:
    """How many seconds a window's rank set may live after ``now``: until a day after the
    window closes. A span on the app's clock, not a moment for Redis's: the app's clock
    named the window, so it says when the window ends (the two agree in production; a test
    that fixes the app's clock gets sets that live as long as its windows)."""
    if view.window is None:
        return None
    return max(1, int((_set_ends(view.window) - now).total_seconds()))


@functools.lru_cache(maxsize=256)
def _set_ends(window: str) -> datetime:
    return periods.window_end(window) + timedelta(days=1)


def _has_set(view: View) -> bool:
    return not view.group and (view.window is None
                               or view.window in periods.windows_of(clock.now()))


# -- keeping the sets ------------------------------------------------------------------------

def placements(user_id: str, region, score: int, reached_at: datetime,
               window_scores: dict) -> list:
    """What places the player in every rank set they are on, for the broker to apply after
    the commit (leaderboard.announce_change); none without rank sets. A write Redis misses
    is made good when it answers again: see _check_outage."""
    if ports().rank_sets is None:
        return []
    at = order.micros(reached_at)
    return [
        (view.key, user_id, order.member_at(
            window_scores.get(view.window, 0) if view.window else score, at, user_id),
         _lifetime(view, reached_at))
        for view in _set_views(region, reached_at)
    ]


def region_changed(old, new) -> None:
    """After a commit that moved a player between regions: both regions' sets are rebuilt
    (on demand) rather than patched."""
    sets = ports().rank_sets
    if sets is None:
        return
    try:
        for region in {old, new} - {None}:
            for view in _set_views(region, clock.now()):
                if view.region:
                    sets.forget(view.key)
    except StoreUnavailable as exc:
        log.warning("rank sets of %s and %s not reset: %s", old, new, exc)


def reseat(user_id: str, region) -> None:
    """After a commit that may have moved a player other than up (an admin hid, showed or
    adjusted them): each rank set they are on drops their old place and takes the one the
    database holds now, none while hidden. A write Redis misses is made good when it
    answers again (_check_outage)."""
    sets = ports().rank_sets
    if sets is None:
        return
    now = clock.now()
    on = _set_views(region, now)
    placements = []
    with reading() as session:
        for view in on:
            rows = view.rows()
            me = session.execute(select(rows.c.score, rows.c.score_reached_at)
                                 .where(rows.c.id == user_id)).first()
            if me is not None:
                placements.append((view.key, user_id, order.member(
                    me.score, me.score_reached_at, user_id), _lifetime(view, now)))
    try:
        sets.reseat(user_id, [view.key for view in on], placements)
    except StoreUnavailable as exc:
        log.warning("rank sets of %s not reseated: %s", user_id, exc)


def _check_outage(sets) -> None:
    """A worker that failed to reach Redis may have left sets without some writes."""
    if sets.take_recovered():
        sets.forget_rank_sets()


def forget_all() -> None:
    """Mark every rank set for rebuilding from the database (none without Redis)."""
    sets = ports().rank_sets
    if sets is not None:
        sets.forget_rank_sets()


def rebuild(view: View) -> None:
    """Refill a view's rank set from the database (the set is emptied first)."""
    sets = ports().rank_sets
    rows = view.rows()
    with reading() as session:
        found = session.execute(select(rows.c.id, rows.c.score, rows.c.score_reached_at)
                                .execution_options(yield_per=5000))
        sets.rebuild(view.key,
                     ((r.id, order.member(r.score, r.score_reached_at, r.id)) for r in found),
                     _lifetime(view, clock.now()))
    log.info("rank set %s rebuilt", view.key)


def _rebuild_soon(sets, view: View) -> None:
    """Refill a view's set from the database in the background, one worker at a time."""
    if not sets.claim_rebuild(view.key, REBUILD_CLAIM_SECONDS):
        return
    if not current_app.config["RANK_REBUILD_IN_BACKGROUND"]:
        rebuild(view)
        return
    app = current_app._get_current_object()

    def run():
        with app.app_context():
            rebuild(view)

    threading.Thread(target=run, daemon=True).start()


def disagreeing_sets() -> list[str]:
    """The views whose complete rank set differs from the database (for verify)."""
    sets = ports().rank_sets
    if sets is None:
        return []
    wrong = []
    with reading() as session:
        regions = session.scalars(select(User.region).where(User.region.is_not(None))
                                  .distinct()).all()
        for region in [None, *regions]:
            for view in _set_views(region, clock.now()):
                if view.region != region or not sets.complete(view.key):
                    continue
                rows = view.rows()
                in_order = select(rows).order_by(*order.order_by(rows.c))
                expected = [order.member(r.score, r.score_reached_at, r.id)
                            for r in session.execute(in_order)]
                if sets.members(view.key, 0, -1) != expected:
                    wrong.append(view.key)
    return wrong


# -- answering -------------------------------------------------------------------------------

def rank_of(view: View, user_id: str) -> dict:
    """The player's score and rank in ``view`` (rank None when not on it); 404 if unknown."""
    return _rank(view, user_id)[0]


def _rank(view: View, user_id: str) -> tuple[dict, bool]:
    """``rank_of``, and whether the view's rank set answered."""
    with reading() as session:
        user = session.execute(select(User.id, User.display_name, User.region)
                               .where(User.id == user_id)).first()
    if user is None:
        raise ApiError(404, "No such player.")
    placed = _from_set(view, user_id)
    score, rank = placed if placed is not None else _from_database(view, user_id)
    mine = {"userId": user.id, "displayName": user.display_name, "region": user.region,
            "score": score, "rank": rank}
    return mine, placed is not None


def around(view: View, user_id: str, radius: int) -> dict:
    """The player and up to ``radius`` players either side of them on ``view``."""
    mine, from_set = _rank(view, user_id)
    if mine["rank"] is None:
        return {**mine, "around": []}
    first = max(1, mine["rank"] - radius)
    last = mine["rank"] + radius
    ids = _ids_from_set(view, first, last) if from_set else None
    rows = view.rows()
    with reading() as session:
        if ids is None:
            found = session.execute(select(rows).order_by(*order.order_by(rows.c))
                                    .offset(first - 1).limit(last - first + 1)).all()
        else:
            found = sorted(session.execute(select(rows).where(rows.c.id.in_(ids))).all(),
                           key=lambda r: ids.index(r.id))
    entries = [{"userId": r.id, "displayName": r.display_name, "score": r.score,
                "rank": first + i} for i, r in enumerate(found)]
    return {**mine, "around": entries}


def _from_set(view: View, user_id: str):
    """(score, rank) from the view's rank set, or None when the set cannot answer."""
    sets = ports().rank_sets
    if sets is None or not _has_set(view):
        return None
    try:
        _check_outage(sets)
        found = sets.rank(view.key, user_id)
    except StoreUnavailable:
        try:
            _rebuild_soon(sets, view)
        except StoreUnavailable:
            pass  # Redis is down: the database answers, and the set is built later
        return None
    if found is None:
        return 0, None
    position, name = found
    return order.score_of(name), position + 1


def _ids_from_set(view: View, first: int, last: int):
    sets = ports().rank_sets
    try:
        return [order.user_of(name) for name in sets.members(view.key, first - 1, last - 1)]
    except StoreUnavailable:
        return None


def _from_database(view: View, user_id: str):
    rows = view.rows()
    rank = None
    with reading() as session:
        me = session.execute(select(rows).where(rows.c.id == user_id)).first()
        if me is not None:
            rank = 1 + session.scalar(
                select(func.count()).select_from(rows).where(order.ahead_of(rows.c, me)))
    return (me.score if me else 0), rank
