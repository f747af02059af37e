"""The top of each board: its snapshot, the caches of it, and the notices of its changes."""

import json
import logging
from dataclasses import dataclass
from functools import cached_property

from flask import current_app
from sqlalchemy import select, text, update

from .extensions import AUTOCOMMIT, db, on_postgres, reading
from .models import BoardState
from .services import services
from .store import StoreUnavailable
from . import order, periods, reconnect, views
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
        version = session.execute(_current_version()).scalar_one()
        found = session.execute(top).all()
    entries = tuple(
        {"userId": r.id, "score": r.score, "rank": i, "displayName": r.display_name}
        for i, r in enumerate(found, start=1)
    )
    return Snapshot(version, entries)


def _current_version():
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
    with db.engines[AUTOCOMMIT].connect() as connection:
        return connection.execute(text("SELECT nextval('board_version')")).scalar_one()


def refresh_cache(view: View = ALL) -> Snapshot:
    """Rebuild a view's cached snapshot from the database; returns what the database holds."""
    snapshot = read_snapshot(view)
    try:
        services().board_cache.put_top(view.key, snapshot.version, snapshot.to_json(),
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
    of it, with the next commands this worker sends to the store; this worker's refresher
    brings its own copies up to date. No board is rebuilt in the request."""
    keys = [view.key for view in views]
    found = services()
    found.local_boards.notice(keys, version)
    if keys or placements:
        found.broker.announce(version, keys, placements)
    found.refresher.changed(keys, version)


def current_snapshot(view: View = ALL) -> Snapshot:
    """A view as of now, which is never older than one this worker has handed out: the copy
    this worker holds (kept up to date by the refresher); else the shared cache's; else,
    when the cache has none that can be trusted (never built, or Redis just came back and
    may have missed writes), the database's, which then fills the cache; straight from the
    database while the store is down."""
    boards = services().local_boards
    held = boards.get(view.key)
    if held is not None:
        return held
    with boards.loading(view.key):
        return boards.get(view.key) or _fetch(boards, view)


def _fetch(boards, view: View) -> Snapshot:
    cache = services().board_cache
    try:
        cached = cache.get_top(view.key)
    except StoreUnavailable:
        return boards.keep(view.key, read_snapshot(view))
    if cached is None or cached.version < boards.served(view.key) or cache.take_recovered():
        return boards.keep(view.key, refresh_cache(view))
    snapshot = boards.keep(view.key, Snapshot.from_json(cached.body))
    due = max(cached.changed, boards.announced(view.key))
    if due > snapshot.version:  # served as it is while the refresher brings the next one
        services().refresher.changed([view.key], due)
        return boards.held(view.key) or snapshot
    return snapshot


def may_reach_top(view: View, score: int) -> bool:
    """Can a player now at ``score`` in ``view`` be on its board? Answered from the board
    this worker holds, without a query: scores only rise, so anyone below a held board's
    cut-off is below the current one. Equal scores count as inside (the tie-break may still
    place the player on it); a board this worker does not hold, or whose copy a notice has
    overtaken (a player may have left it, lowering its cut-off), counts as reached."""
    boards = services().local_boards
    held = boards.get(view.key)
    return (held is None or not boards.is_current(view.key)
            or len(held.entries) < SNAPSHOT_SIZE or score >= held.entries[-1]["score"])


def views_moved(region, groups, score: int, window_scores: dict, now) -> list[View]:
    """The views a change of this player (score, name, place or visibility) may alter the
    top of. ``window_scores`` maps windows to the player's score in them: the current ones,
    and any past ones the change shows in too (an admin hiding the player)."""
    moved = []
    windows = tuple(dict.fromkeys((None, *periods.windows_of(now), *window_scores)))
    for view in views.in_windows(region, tuple(groups), windows):
        in_view = window_scores.get(view.window, 0) if view.window else score
        if in_view > 0 and may_reach_top(view, in_view):
            moved.append(view)
    return moved
