"""The app's services, built once by create_app and kept under one key of
``app.extensions``, so every module finds each by name and type: ``services().board_cache``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import Flask, current_app

if TYPE_CHECKING:  # annotations only: gate.py imports this module, a cycle otherwise
    from .blocklist import RedisBlocklist
    from .board_cache import BoardCache
    from .broker import MemoryBroker, RedisBroker
    from .gate import Limits
    from .hub import Hub
    from .local_boards import LocalBoards
    from .rank_sets import RedisRankSets
    from .refresher import Refresher
    from .store import RedisStore

_KEY = "scoreboard.services"


@dataclass
class Services:
    # None where the embedded default has no such thing: no Redis, so no blocklist copy (the
    # database answers) and no rank sets (ranks come from the database).
    redis: RedisStore | None
    board_cache: BoardCache
    blocklist: RedisBlocklist | None
    rank_sets: RedisRankSets | None
    broker: MemoryBroker | RedisBroker
    local_boards: LocalBoards
    refresher: Refresher
    hub: Hub
    limits: Limits


def register(app: Flask, built: Services) -> None:
    app.extensions[_KEY] = built


def services(app: Flask | None = None) -> Services:
    """The current app's services, or ``app``'s where there is no app context (gunicorn's
    hooks, tests)."""
    return (app or current_app).extensions[_KEY]
