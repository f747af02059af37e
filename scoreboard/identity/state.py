"""What identity keeps for each app (auth.init_app): the blocklist create_app hands it and
the memory of the tokens the app has accepted."""

from dataclasses import dataclass

from flask import current_app

from ..adapters.blocklist import RedisBlocklist
from .tokens import TokenMemory

KEY = "scoreboard.identity"


@dataclass(frozen=True)
class Identity:
    # Redis's copy of the revocations; None without Redis, where the database answers.
    blocklist: RedisBlocklist | None
    tokens: TokenMemory


def current() -> Identity:
    return current_app.extensions[KEY]
