"""The service's rules for JWTs, put to Flask-JWT-Extended, and the memory of the tokens an
app has accepted.

A player sends the same token with every write, and verifying it (Flask-JWT-Extended's
``decode_token`` decodes it three times) and checking its claims was a fifth of a write's
CPU. The answer is a function of the token's bytes and the app's rules, except for expiry,
so each app remembers the claims of the tokens it accepted and checks only their expiry
again, and, for a token verified with the identity provider's keys (jwks.py), that the key
is still the provider's. Revocation is not remembered: it is looked up on every request
(auth.py, gate.py).
"""

import re
import time
from datetime import UTC, datetime

from flask import current_app
from flask_jwt_extended import JWTManager, decode_token, get_unverified_jwt_headers

from config import PUBLIC_KEY_ALGORITHMS

from ..core import names
from ..core.contract import USER_ID
from ..core.errors import ApiError, error_response

# Where a token travels: a header, or a write's JSON body. A stream's may also be in a cookie
# for a page of this origin; never in a URL, where logs keep it (web/stream.py: tickets).
TOKEN_PLACES = ["headers", "json"]
HEADER, HEADER_TYPE, JSON_KEY = "Authorization", "Bearer", "authToken"
COOKIE = "scoreboard_token"
MISSING = "Missing authentication token."
INVALID = "Invalid authentication token."
EXPIRED = "Authentication token has expired."
# A token id as issuers write them (UUIDs, hex, base64url), short enough to be stored as a
# revocation (models.RevokedToken): printable ASCII.
JTI = re.compile(r"[\x21-\x7e]{1,128}")
# The last moment a datetime can hold: a token's exp past it could not be stored or compared.
LAST_EXPIRY = datetime(9999, 12, 31, tzinfo=UTC).timestamp()
REMEMBERED_TOKENS = 10_000  # about 2 KB each


def configure(app, keys) -> None:
    """Map our settings onto Flask-JWT-Extended's and give the app a manager of its own,
    whose replies to a refused token are ours, and which verifies with ``keys`` (the
    identity provider's, jwks.KeySet) when they are given."""
    config = app.config
    algorithm = config["JWT_ALGORITHM"]
    if algorithm not in ("HS256",) + PUBLIC_KEY_ALGORITHMS:
        raise ValueError(f"JWT_ALGORITHM must be HS256 or one of "
                         f"{', '.join(PUBLIC_KEY_ALGORITHMS)}, not {algorithm!r}")
    # Exactly one accepted algorithm: an HS256 token "signed" with the RS256 public key, or an
    # unsigned one, is refused before its signature is even looked at.
    config["JWT_DECODE_ALGORITHMS"] = [algorithm]
    config["JWT_TOKEN_LOCATION"] = TOKEN_PLACES
    config["JWT_HEADER_NAME"], config["JWT_HEADER_TYPE"] = HEADER, HEADER_TYPE
    config["JWT_JSON_KEY"] = JSON_KEY
    config["JWT_ACCESS_COOKIE_NAME"] = COOKIE
    config["JWT_DECODE_LEEWAY"] = config["JWT_LEEWAY"]
    config["JWT_DECODE_ISSUER"] = config["JWT_ISSUER"]
    config["JWT_ENCODE_ISSUER"] = config["JWT_ISSUER"]
    config["JWT_DECODE_AUDIENCE"] = config["JWT_AUDIENCE"]
    config["JWT_ENCODE_AUDIENCE"] = config["JWT_AUDIENCE"]
    config["JWT_ERROR_MESSAGE_KEY"] = "error"
    manager = JWTManager()
    manager.unauthorized_loader(lambda reason: error_response(401, MISSING))
    manager.invalid_token_loader(lambda reason: error_response(401, INVALID))
    manager.expired_token_loader(lambda header, payload: error_response(401, EXPIRED))
    if keys is not None:
        manager.decode_key_loader(lambda header, payload: keys.verifying_key(header))
    manager.init_app(app)


def check_claims(claims: dict) -> None:
    """401 for a verified token whose claims the service cannot use: no ``exp``, or one
    that is no moment (PyJWT accepts a string of digits, or a year past 9999); a ``sub``
    that is no player id; a ``jti`` the blocklist cannot hold; a ``name`` no player may
    show (names.py); an audience when none is configured; a refresh token. Refused here, the
    token fails on every route alike, and nothing of it is stored. An unusable ``region`` is
    only dropped (players.arriving), as is a ``role`` no admin has."""
    if "exp" not in claims:
        raise ApiError(401, "Authentication token must expire.")
    if "aud" in claims and not current_app.config["JWT_AUDIENCE"]:
        # A token addressed to some other service is not ours to accept.
        raise ApiError(401, INVALID)
    sub, exp, jti = claims["sub"], claims["exp"], claims.get("jti")
    usable = (isinstance(sub, str) and USER_ID.fullmatch(sub)
              and isinstance(exp, (int, float)) and not isinstance(exp, bool)
              and exp < LAST_EXPIRY
              and (jti is None or isinstance(jti, str) and JTI.fullmatch(jti))
              # As Flask-JWT-Extended's walk through a request refuses one (auth.py).
              and claims.get("type") != "refresh")
    if not usable:
        raise ApiError(401, INVALID)
    try:
        names.from_claim(claims.get("name"))
    except ValueError:
        raise ApiError(401, "Invalid authentication token: its name claim holds control or "
                            "format characters, which no name may.") from None


class TokenMemory:
    """One app's accepted tokens: encoded token -> (claims, the provider's key that verified
    it or None), the oldest forgotten first."""

    def __init__(self, leeway: int, keys=None):
        self._leeway = leeway
        self._keys = keys  # the identity provider's (jwks.KeySet), or None
        self._accepted = {}

    def claims(self, encoded_token: str) -> dict:
        """The token's claims, verified by the current app's rules (``decode_token``) and
        checked (``check_claims``), or remembered from the last time they were, not expired
        since and, with the provider's keys, verified by a key the provider still has.
        Raises what either raises for a token they refuse."""
        claims, key = self._accepted.get(encoded_token, (None, None))
        # Judged on the wall clock, with the leeway, as PyJWT judges it: a remembered token
        # that has expired is decoded again, and refused as expired. A key the provider has
        # withdrawn, or replaced, is not the one held now: the token is verified again.
        if (claims is None or claims["exp"] <= time.time() - self._leeway
                or key is not None and self._keys.key(key.key_id) is not key):
            claims = decode_token(encoded_token)
            check_claims(claims)
            if self._keys is not None:
                key = self._keys.key(get_unverified_jwt_headers(encoded_token)["kid"])
                if key is None:
                    return claims  # withdrawn since it verified the token: not remembered
            if len(self._accepted) >= REMEMBERED_TOKENS:
                del self._accepted[next(iter(self._accepted))]
            self._accepted[encoded_token] = (claims, key)
        return claims
