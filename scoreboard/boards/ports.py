"""What the boards need, handed in by create_app (``init_app``): the shared cache of board
snapshots, the broker of change notices, with Redis the rank sets, and this worker's copies
and their refresher. Each adapter is named by what the boards call on it (a Protocol), so no
module here names one, and a new implementation (Redis Cluster's) plugs in unchanged."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from flask import Flask, current_app

from .local_boards import LocalBoards

_KEY = "scoreboard.boards"


class BoardCache(Protocol):
    """The snapshots every worker shares (adapters/board_cache.py)."""

    def get_top(self, view: str) -> Any: ...
    def put_top(self, view: str, version: int, body: str, ttl: int) -> bool: ...
    def claim_refresh(self, view: str, seconds: float) -> bool: ...
    def claim_build(self, view: str, seconds: float) -> bool: ...
    def end_build(self, view: str) -> None: ...
    def take_recovered(self) -> bool: ...


class Broker(Protocol):
    """Change notices between workers (adapters/broker.py), and the notices that end
    someone's streams (core/viewers.py)."""

    def announce(self, version: int, views: list[str], placements=()) -> None: ...
    def end_streams(self, key: str) -> None: ...
    def sync(self) -> bool: ...
    def listen(self, hub) -> None: ...


class RankSets(Protocol):
    """Sorted sets of each view's players, for ranks (adapters/rank_sets.py)."""

    def take_recovered(self) -> bool: ...
    def reseat(self, user_id: str, views: list[str], placements) -> None: ...
    def forget(self, view: str) -> None: ...
    def forget_rank_sets(self) -> None: ...
    def rank(self, view: str, user_id: str) -> Any: ...
    def complete(self, view: str) -> bool: ...
    def members(self, view: str, start: int, stop: int) -> list[str]: ...
    def claim_rebuild(self, view: str, seconds: int) -> bool: ...
    def rebuild(self, view: str, placements: Iterable, lifetime=None) -> None: ...


class Refresher(Protocol):
    """This worker's rebuilder of the boards that changed (refresher.py)."""

    def changed(self, keys: list[str], version: int) -> None: ...


@dataclass(frozen=True)
class Ports:
    cache: BoardCache
    broker: Broker
    rank_sets: RankSets | None  # None without Redis: ranks come from the database
    local: LocalBoards  # this worker's copies
    refresher: Refresher  # brings them up to date


def init_app(app: Flask, ports: Ports) -> None:
    app.extensions[_KEY] = ports


def ports(app: Flask | None = None) -> Ports:
    """The current app's ports, or ``app``'s where there is no app context."""
    return (app or current_app).extensions[_KEY]
