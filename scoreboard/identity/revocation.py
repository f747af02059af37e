"""Revocation of tokens by ``jti``: the database holds every one, Redis a copy that every
worker reads (adapters/blocklist.py)."""

import logging

from sqlalchemy import select

from ..adapters.store import StoreUnavailable
from ..boards import leaderboard
from ..core import clock, viewers
from ..data.db import db, insert_ignoring_duplicates
from ..data.models import RevokedToken
from . import state

log = logging.getLogger(__name__)


def is_revoked(jti: str) -> bool:
    """Redis's copy answers when it can; the database, which holds every revocation,
    otherwise (and always without Redis)."""
    blocklist = state.current().blocklist
    answer = None
    if blocklist is not None:
        try:
            answer = blocklist.is_revoked(jti)
            if answer is None:
                blocklist.load_revoked(_live_revocations())
        except StoreUnavailable:
            pass
    if answer is None:
        answer = db.session.get(RevokedToken, jti) is not None
    return answer


def _live_revocations() -> list[str]:
    # A token's expiry is the identity provider's wall-clock time, judged on the wall clock
    # (PyJWT, tokens.TokenMemory), never on the app's clock, which tests may fix in the past.
    rows = db.session.scalars(select(RevokedToken.jti)
                              .where(RevokedToken.expires_at > clock.system_now()))
    return list(rows)


def revoke(jti: str, expires_at) -> bool:
    """Revoke a token id for good: the database first, then Redis's copy, and every worker
    ends the streams its tickets opened. False when only the database has it yet: workers
    then see it at their next blocklist refresh."""
    values = {"jti": jti, "expires_at": expires_at}
    db.session.execute(insert_ignoring_duplicates(RevokedToken, values))
    db.session.commit()
    leaderboard.end_streams(viewers.token(jti))
    blocklist = state.current().blocklist
    if blocklist is None:
        return True
    try:
        blocklist.add_revoked(jti)
    except StoreUnavailable:
        log.warning("revocation of %s stored in the database only until redis returns", jti)
        return False
    return True
