"""The top of each board: its snapshot, the caches of it, and the notices of its changes."""

import json
import logging
import time
from dataclasses import dataclass
from functools import cached_property

import gevent
from flask import current_app
from sqlalchemy import select, text, update

from ..adapters.redis_port import StoreUnavailable
from ..core import order, periods
from ..data import reconnect
from ..data.db import autocommit_row, db, on_postgres, reading
from ..data.models import BoardState
from . import views
from .local_boards import LocalBoards
from .ports import ports
from .views import ALL, View

log = logging.getLogger(__name__)

# The snapshot keeps the largest page /top may ask for; smaller pages are slices of it.
SNAPSHOT_SIZE = 100


@dataclass(frozen=True)
class Snapshot:
    """The top of the board at one version; versions only go up. Its renderings (the JSON of
    /top for each page size, the SSE frame) are encoded once, when first asked for, and then
    served as bytes to every request and stream of this worker."""

    version: int
    entries: tuple

    def body(self, limit: int = 10) -> dict:
        return {"topScores": list(self.entries[:limit]), "version": self.version}

    def etag(self, limit: int = 10) -> str:
        return f"v{self.version}-{limit}"

    def encoded(self, limit: int = 10) -> bytes:
        """The body of /top for ``limit`` rows, as jsonify would write it."""
        pages = self.__dict__.setdefault("_pages", {})  # frozen: set beside the fields
        page = pages.get(limit)
        if page is None:
            page = pages[limit] = _dumps(self.body(limit)) + b"\n"
        return page

    @cached_property
    def sse_frame(self) -> bytes:
        """The Server-Sent Event of this snapshot: the same JSON as /top's first page."""
        return b"id: %d\nevent: scoreboard\ndata: %s\n\n" % (self.version, _dumps(self.body()))

    def to_json(self) -> str:
        return json.dumps({"version": self.version, "entries": self.entries})

    @classmethod
    def from_json(cls, text: str) -> "Snapshot":
        data = json.loads(text)
        return cls(data["version"], tuple(data["entries"]))


def _dumps(body: dict) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def read_snapshot(view: View = ALL) -> Snapshot:
    """The view's top rows, labelled with the board version read just before them: every
    write that took a version up to it had committed by then (next_version), so the rows
    hold it. A write committed in between is in the rows with an older label, which only
    makes a reader fetch again sooner."""
    rows = view.rows()
    top = select(rows.c.id, rows.c.display_name, rows.c.score).order_by(
        *order.order_by(rows.c)).limit(SNAPSHOT_SIZE)
    with reading() as session:
        version = session.execute(_version_now()).scalar_one()
        found = session.execute(top).all()
    entries = tuple(
        {"userId": r.id, "score": r.score, "rank": i, "displayName": r.display_name}
        for i, r in enumerate(found, start=1)
    )
    return Snapshot(version, entries)


def database_version() -> int:
    """The newest board version taken: every write whose reply has been sent took one at
    most this high (next_version)."""
    with reading() as session:
        return session.execute(_version_now()).scalar_one()


def _version_now():
    if on_postgres():
        return text("SELECT last_value FROM board_version")
    return select(BoardState.version).where(BoardState.id == 1)


def next_version() -> int:
    """After a commit that may have moved a board: the next board version. Taken after the
    commit, never inside it, so nothing waits on it (PostgreSQL: a sequence; migration 0008)
    and whoever reads the version next also sees the write. On a dropped connection it is
    taken again, alone: running the view again would repeat the write (reconnect.py)."""
    if on_postgres():
        return reconnect.once_more(_take_version)
    version = db.session.execute(  # SQLite: one writer at a time, so the row waits for no one
        update(BoardState).where(BoardState.id == 1)
        .values(version=BoardState.version + 1).returning(BoardState.version)).scalar_one()
    db.session.commit()
    return version


def _take_version() -> int:
    return autocommit_row("SELECT nextval('board_version')", {})[0]


def refresh_cache(view: View = ALL) -> Snapshot:
    """Rebuild a view's cached snapshot from the database; returns what the database holds."""
    snapshot = read_snapshot(view)
    try:
        ports().cache.put_top(view.key, snapshot.version, snapshot.to_json(),
                                       current_app.config["TOP_CACHE_TTL_SECONDS"])
    except StoreUnavailable as exc:
        log.warning("board cache not updated, redis unavailable: %s", exc)
    return snapshot


def commit_announcing(moved: list) -> None:
    """Commit a change that moved the ``moved`` views, then announce it under a new version."""
    db.session.commit()
    if moved:
        announce_change(next_version(), moved)


def announce_change(version: int, views, placements=()) -> None:
    """After a commit that took ``version`` and moved ``views``: the shared cache notes
    the change, the rank sets take ``placements`` (ranks.placements) and every worker hears
    of it, all before this returns (so before the write's reply: read-your-writes); this
    worker's refresher brings its own copies up to date. No board is rebuilt in the
    request."""
    keys = [view.key for view in views]
    found = ports()
    found.local.notice(keys, version)
    if keys or placements:
        found.broker.announce(version, keys, placements)
    found.refresher.changed(keys, version)


def end_streams(key: str) -> None:
    """After a commit that took someone's sight of a board away (a token revoked, a player
    banned, a member gone): every worker of every instance ends the streams ``key`` names
    (core/viewers.py), told through the change notices before this returns."""
    ports().broker.end_streams(key)


def fresh_snapshot(view: View = ALL) -> Snapshot:
    """A view for a request: never older than any write whose reply was sent before this
    call (read-your-writes), on any worker, nor than a copy this worker handed out. This
    worker's copy when nothing newer was announced; else a newer one from the shared
    cache, or from the database when the cache has none (one request of the cluster builds
    it while the others wait a moment for it)."""
    found = ports()
    held, needed = fresh_held(found, view.key)
    if held is not None:
        return held
    boards = found.local
    with boards.loading(view.key):  # the reads that need it meanwhile wait for this one
        held = boards.get(view.key)
        if held is not None and held.version >= needed:
            return held
        return _fetch(found, view, needed)


def fresh_held(found, key: str, version_now=database_version) -> tuple[Snapshot | None, int]:
    """(this worker's copy of the view when no write announced so far can be missing from
    it, else None; the least version a request may be given). The broker says whether this
    worker has heard every notice sent so far (RedisBroker.sync); when it cannot, the
    database's newest version (``version_now()``) is the least."""
    boards = found.local
    synced = found.broker.sync()
    # Only now: a notice that reached this worker before the read began may be heard while
    # the read waits for its marker, and it raises what is needed.
    needed = boards.needed(key)
    if not synced:
        needed = max(needed, version_now())
    held = boards.get(key)
    return (held if held is not None and held.version >= needed else None), needed


def current_snapshot(view: View = ALL) -> Snapshot:
    """The newest copy of a view this worker has heard of, without waiting for news: for
    the hub's streams, which the refresher keeps up to date. The copy held, or else the
    shared cache's, or else the database's."""
    boards = ports().local
    held = boards.get(view.key)
    if held is not None:
        return held
    with boards.loading(view.key):
        return boards.get(view.key) or _fetch(ports(), view, boards.served(view.key))


def _fetch(found, view: View, needed: int) -> Snapshot:
    """The view at ``needed`` or newer, kept as this worker's copy: the shared cache's when
    it has one that recent (and has not missed writes in an outage), else built from the
    database. One request of the cluster builds it at a time; the others wait for its result
    up to BOARD_REFRESH_SECONDS, then build it themselves."""
    boards, cache = found.local, found.cache
    if cache.take_recovered():  # the cache may have missed writes while Redis was away
        return boards.keep(view.key, refresh_cache(view))
    wait = current_app.config["BOARD_REFRESH_SECONDS"]
    deadline = time.monotonic() + wait
    while True:
        try:
            cached = cache.get_top(view.key)
            if cached is not None and cached.version >= max(needed, cached.changed):
                return boards.keep(view.key, Snapshot.from_json(cached.body))
            claimed = cache.claim_build(view.key, wait)
            if claimed or time.monotonic() >= deadline:
                snapshot = refresh_cache(view)
                if claimed:
                    cache.end_build(view.key)
                return boards.keep(view.key, snapshot)
        except StoreUnavailable:
            return boards.keep(view.key, read_snapshot(view))
        gevent.sleep(wait / 20)  # another worker is building it: its result comes soon


def may_reach_top(view: View, score: int, boards: LocalBoards) -> bool:
    """Can a player now at ``score`` in ``view`` be on its board? Answered from the board
    this worker holds, without a query: scores only rise, so anyone below a held board's
    cut-off is below the current one. Equal scores count as inside (the tie-break may still
    place the player on it); a board this worker does not hold, or whose copy a notice has
    overtaken (a player may have left it, lowering its cut-off), counts as reached.
    ``boards``: this worker's copies (ports().local)."""
    held = boards.get(view.key)
    return (held is None or not boards.is_current(view.key)
            or len(held.entries) < SNAPSHOT_SIZE or score >= held.entries[-1]["score"])


def views_moved(region, groups, score: int, window_scores: dict, now) -> list[View]:
    """The views a change of this player (score, name, place or visibility) may alter the
    top of. ``window_scores`` maps windows to the player's score in them: the current ones,
    and any past ones the change shows in too (an admin hiding the player)."""
    moved, boards = [], ports().local
    windows = tuple(dict.fromkeys((None, *periods.windows_of(now), *window_scores)))
    for view in views.in_windows(region, tuple(groups), windows):
        in_view = window_scores.get(view.window, 0) if view.window else score
        if in_view > 0 and may_reach_top(view, in_view, boards):
            moved.append(view)
    return moved
