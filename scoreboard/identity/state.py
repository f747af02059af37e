"""What identity keeps for each app (auth.init_app): the blocklist create_app hands it, the
memory of the tokens the app has accepted, and the identity provider's keys."""

from dataclasses import dataclass

from flask import current_app

from ..adapters.blocklist import RedisBlocklist
from .jwks import KeySet
from .tokens import TokenMemory

KEY = "scoreboard.identity"


@dataclass(frozen=True)
class Identity:
    # Redis's copy of the revocations; None without Redis, where the database answers.
    blocklist: RedisBlocklist | None
    tokens: TokenMemory
    # The identity provider's keys (JWT_JWKS_URL); None when tokens are verified with
    # JWT_SECRET_KEY or JWT_PUBLIC_KEY.
    keys: KeySet | None


def current() -> Identity:
    return current_app.extensions[KEY]
