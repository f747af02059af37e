"""The app's services, built once by create_app and kept under one key of
``app.extensions``, so every module finds each by name and type: ``services().board_cache``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import Flask, current_app

if TYPE_CHECKING:  # annotations only: gate.py imports this module, a cycle otherwise
    from ..adapters.blocklist import RedisBlocklist
    from ..adapters.board_cache import BoardCache
    from ..adapters.broker import MemoryBroker, RedisBroker
    from ..adapters.local_boards import LocalBoards
    from ..adapters.rank_sets import RedisRankSets
    from ..adapters.redis_port import RedisPort
    from ..boards.refresher import Refresher
    from ..live.hub import Hub
    from ..web.gate import Limits

_KEY = "scoreboard.core.services"


@dataclass
class Services:
    # None where the embedded default has no such thing: no Redis, so no blocklist copy (the
    # database answers) and no rank sets (ranks come from the database).
    redis: RedisPort | None
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
