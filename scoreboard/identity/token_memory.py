"""Flask-JWT-Extended's manager, remembering the tokens it has verified and accepted.

A player sends the same token with every write, and the manager decodes each one three times
(claims, header, then verified claims): a fifth of a write's CPU. Verifying a token's bytes
gives the same answer every time except for expiry, which is checked again on each use, so
a token seen before skips the decoding. Revocation is not remembered: it is looked up on
every request, as before (auth.py, gate.py).

After a token is verified, the library also reads its header, which PyJWT decodes checking
each character in Python: 45 µs, a twentieth of a write. The header is a function of the
token's bytes alone, so the headers of verified tokens are remembered too.

Last, the library's walk through a request (where the token is, its type, its callbacks,
the user loader) and auth.authenticate's own checks of the claims give the same answer for
the same token every time but for expiry and revocation: about a tenth of a write's
instructions. So auth.authenticate remembers the claims of the tokens it accepted, and a
request plainly carrying one of them (auth._presented_token) skips that walk.
"""

import math
import time
import weakref

from flask import current_app
from flask_jwt_extended import JWTManager, view_decorators
from flask_jwt_extended.config import config

REMEMBERED_TOKENS = 10_000  # about 2 KB each

_read_header = view_decorators.get_unverified_jwt_headers
_headers = {}  # encoded token -> its header, for tokens some app has verified


def _remember(memory: dict, encoded_token: str, value) -> None:
    if len(memory) >= REMEMBERED_TOKENS:
        del memory[next(iter(memory))]  # the one remembered first
    memory[encoded_token] = value


def _remembered_header(encoded_token: str) -> dict:
    header = _headers.get(encoded_token)
    if header is None:
        header = _read_header(encoded_token)
        _remember(_headers, encoded_token, header)
    return header


def _unexpired(claims: dict | None) -> dict | None:
    """The claims, unless they have expired since. Those whose ``exp`` is no number (PyJWT
    verifies a string of digits) are not taken from memory: they are decoded again, and
    auth.authenticate refuses them each time."""
    if claims is None:
        return None
    exp = claims.get("exp", math.inf)
    if isinstance(exp, (int, float)) and exp > time.time() - config.leeway:
        return claims
    return None


# The pinned Flask-JWT-Extended (requirements.txt) reads it there, once the token verified.
view_decorators.get_unverified_jwt_headers = _remembered_header


class RememberingJWTManager(JWTManager):
    def __init__(self, app=None, add_context_processor: bool = False):
        # Per app, as each app has its own keys and rules: app -> {encoded token: claims}.
        self._verified = weakref.WeakKeyDictionary()
        self._accepted = weakref.WeakKeyDictionary()
        super().__init__(app, add_context_processor)

    def _decode_jwt_from_config(self, encoded_token: str, csrf_value=None,
                                allow_expired: bool = False) -> dict:
        # Overrides the pinned Flask-JWT-Extended's (requirements.txt) one place of decoding.
        verified = self._verified.setdefault(current_app._get_current_object(), {})
        if csrf_value is None and not allow_expired:
            claims = _unexpired(verified.get(encoded_token))
            if claims is not None:
                return claims
        claims = super()._decode_jwt_from_config(encoded_token, csrf_value, allow_expired)
        if csrf_value is None and not allow_expired:
            _remember(verified, encoded_token, claims)
        return claims

    def accepted(self, encoded_token: str) -> dict | None:
        """The claims of a token this app accepted (``accept``), unless it has expired since."""
        accepted = self._accepted.get(current_app._get_current_object())
        return _unexpired(accepted.get(encoded_token)) if accepted else None

    def accept(self, encoded_token: str, claims: dict) -> None:
        """Remember that every check but expiry and revocation passed for this token."""
        _remember(self._accepted.setdefault(current_app._get_current_object(), {}),
                  encoded_token, claims)
