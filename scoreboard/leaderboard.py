"""The ranking: one definition of order, the top-of-board snapshot and its cache."""

import json
import logging
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select, true, update

from .broker import publish_change
from .extensions import db
from .models import BoardState, User
from .store import StoreUnavailable

log = logging.getLogger(__name__)

# The snapshot keeps the largest page /top may ask for; smaller pages are slices of it.
SNAPSHOT_SIZE = 100


def ranking_order(columns):
    """The one total order of the board: higher score, then earlier reached, then userId."""
    return (columns.score.desc(), columns.score_reached_at.asc(), columns.id.asc())


@dataclass(frozen=True)
class Snapshot:
    """The top of the board at one version; versions only go up."""

    version: int
    entries: tuple

    def body(self, limit: int = 10) -> dict:
        return {"topScores": list(self.entries[:limit]), "version": self.version}

    def etag(self, limit: int = 10) -> str:
        return f"v{self.version}-{limit}"

    def to_json(self) -> str:
        return json.dumps({"version": self.version, "entries": self.entries})

    @classmethod
    def from_json(cls, text: str) -> "Snapshot":
        data = json.loads(text)
        return cls(data["version"], tuple(data["entries"]))


def read_snapshot() -> Snapshot:
    """Read the version and the top rows in ONE statement, so both come from the same moment."""
    top = (
        select(User.id, User.display_name, User.score, User.score_reached_at)
        .where(User.score > 0)  # a player who never scored is not on the board
        .order_by(*ranking_order(User))
        .limit(SNAPSHOT_SIZE)
        .subquery()
    )
    stmt = (
        select(BoardState.version, top.c.id, top.c.display_name, top.c.score)
        .select_from(BoardState)
        .outerjoin(top, true())
        .where(BoardState.id == 1)
        .order_by(*ranking_order(top.c))
    )
    rows = db.session.execute(stmt).all()
    db.session.rollback()  # end the read transaction at once: no connection held idle in one
    entries = tuple(
        {"userId": r.id, "score": r.score, "rank": i, "displayName": r.display_name}
        for i, r in enumerate((r for r in rows if r.id is not None), start=1)
    )
    return Snapshot(rows[0].version if rows else 0, entries)


def _store():
    return current_app.extensions["scoreboard.store"]


def refresh_cache() -> Snapshot:
    """Rebuild the cached snapshot from the database; returns what the database holds."""
    snapshot = read_snapshot()
    try:
        _store().put_top(
            snapshot.version, snapshot.to_json(), current_app.config["TOP_CACHE_TTL_SECONDS"]
        )
    except StoreUnavailable as exc:
        log.warning("board cache not updated, redis unavailable: %s", exc)
    return snapshot


def announce_change() -> None:
    """After a commit that bumped the version: refresh the cache and tell every worker."""
    publish_change(refresh_cache())


def current_snapshot() -> Snapshot:
    """The board as of now: from the cache; from the database, rebuilding the cache, when the
    cache is missing, older than a version this process has already served, or may have
    missed writes while the store was away; straight from the database when the store is
    down."""
    store = _store()
    try:
        cached = store.get_top()
    except StoreUnavailable:
        return _served(read_snapshot())
    newest = current_app.extensions["scoreboard.newest_version"]
    if cached is None or cached[0] < newest[0] or store.take_recovered("board"):
        return _served(refresh_cache())
    return _served(Snapshot.from_json(cached[1]))


def _served(snapshot: Snapshot) -> Snapshot:
    """Remember the newest version this process handed out, so it never hands out less."""
    newest = current_app.extensions["scoreboard.newest_version"]
    newest[0] = max(newest[0], snapshot.version)
    return snapshot


def touches_top(score: int) -> bool:
    """Inside a writing transaction: can a player now at ``score`` be on the cached board?

    Scores only rise, so anyone below the current cut-off stays below it; equal scores count
    as inside because the tie-break may still place the player on the board.
    """
    cutoff = db.session.execute(
        select(User.score)
        .where(User.score > 0)
        .order_by(*ranking_order(User))
        .offset(SNAPSHOT_SIZE - 1)
        .limit(1)
    ).scalar()
    return cutoff is None or score >= cutoff


def bump_version() -> int:
    """Inside a writing transaction: take the next board version (locks the board row)."""
    return db.session.execute(
        update(BoardState)
        .where(BoardState.id == 1)
        .values(version=BoardState.version + 1)
        .returning(BoardState.version)
    ).scalar_one()
