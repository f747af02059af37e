"""Flask-JWT-Extended's manager, remembering the tokens it has verified.

A player sends the same token with every write, and the manager decodes each one three times
(claims, header, then verified claims): a fifth of a write's CPU. Verifying a token's bytes
gives the same answer every time except for expiry, which is checked again on each use, so
a token seen before skips the decoding. Revocation is not remembered: it is looked up on
every request, as before (auth.py, gate.py).

After a token is verified, the library also reads its header, which PyJWT decodes checking
each character in Python: 45 µs, a twentieth of a write. The header is a function of the
token's bytes alone, so the headers of verified tokens are remembered too.
"""

import time
import weakref

from flask import current_app
from flask_jwt_extended import JWTManager, view_decorators
from flask_jwt_extended.config import config

REMEMBERED_TOKENS = 10_000  # about 2 KB each

_read_header = view_decorators.get_unverified_jwt_headers
_headers = {}  # encoded token -> its header, for tokens some app has verified


def _remembered_header(encoded_token: str) -> dict:
    header = _headers.get(encoded_token)
    if header is None:
        header = _read_header(encoded_token)
        if len(_headers) >= REMEMBERED_TOKENS:
            del _headers[next(iter(_headers))]  # the one read first
        _headers[encoded_token] = header
    return header


# The pinned Flask-JWT-Extended (requirements.txt) reads it there, once the token verified.
view_decorators.get_unverified_jwt_headers = _remembered_header


class RememberingJWTManager(JWTManager):
    def __init__(self, app=None, add_context_processor: bool = False):
        # Per app, as each app has its own keys and rules: app -> {encoded token: claims}.
        self._verified = weakref.WeakKeyDictionary()
        super().__init__(app, add_context_processor)

    def _decode_jwt_from_config(self, encoded_token: str, csrf_value=None,
                                allow_expired: bool = False) -> dict:
        # Overrides the pinned Flask-JWT-Extended's (requirements.txt) one place of decoding.
        verified = self._verified.setdefault(current_app._get_current_object(), {})
        claims = verified.get(encoded_token)
        if claims is not None and csrf_value is None and not allow_expired and (
                "exp" not in claims or claims["exp"] > time.time() - config.leeway):
            return claims
        claims = super()._decode_jwt_from_config(encoded_token, csrf_value, allow_expired)
        if csrf_value is None and not allow_expired:
            if len(verified) >= REMEMBERED_TOKENS:
                del verified[next(iter(verified))]  # the one verified first
            verified[encoded_token] = claims
        return claims
