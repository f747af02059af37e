"""Authentication of requests by JWT, the admin role, and development tokens."""

import re
from datetime import timedelta

from flask import current_app, g, request
from flask_jwt_extended import create_access_token, get_jwt, verify_jwt_in_request

from ..adapters.blocklist import RedisBlocklist
from ..core.errors import ApiError, Forbidden
from . import jwks, state, tokens
from .revocation import is_revoked
from .tokens import COOKIE, HEADER, HEADER_TYPE, JSON_KEY, TOKEN_PLACES

BEARER = re.compile(rf"{HEADER_TYPE} ([^\s,]+)")
REVOKED = "Authentication token has been revoked."


def init_app(app, blocklist: RedisBlocklist | None) -> None:
    """Verify tokens by the app's settings (with the identity provider's keys when
    ``JWT_JWKS_URL`` is set), and ask ``blocklist`` (Redis's copy of the revocations; None
    without Redis) whether they are revoked."""
    keys = jwks.from_config(app.config)
    tokens.configure(app, keys)
    app.extensions[state.KEY] = state.Identity(
        blocklist=blocklist, tokens=tokens.TokenMemory(app.config["JWT_LEEWAY"], keys),
        keys=keys)


def signing_keys_status() -> str | None:
    """What /readyz says of the identity provider's keys (jwks.OK, STALE or UNAVAILABLE);
    None when tokens are verified without them."""
    keys = state.current().keys
    return None if keys is None else keys.status()


def authenticate(locations=None) -> dict:
    """Verify the request's token (header or ``authToken`` body field, unless ``locations``
    says where else to look) and return its claims. A token the app accepted before is only
    checked for expiry and revocation again (tokens.TokenMemory); within one request, a
    second call for the same places (a view's, after a hook's) answers what the first did."""
    # The request and g, each looked up through its proxy once: every look-up through a
    # proxy measured at about 10 k instructions (docs/PERFORMANCE.md, tenth round).
    asked, kept = request._get_current_object(), g._get_current_object()
    places = locations or _token_places(asked)
    verified = kept.get("verified_token")
    if verified is not None and verified[0] == places:
        return verified[1]
    token = _presented_token(asked, places)
    if token is None:
        # Any other shape, or no token, is Flask-JWT-Extended's to read, and to refuse.
        # Revocation is asked below, once the claims are known to be usable: the look-up
        # of a jti the blocklist cannot hold would fail.
        verify_jwt_in_request(locations=places, skip_revocation_check=True)
        claims = get_jwt()
        tokens.check_claims(claims)
    else:
        claims = state.current().tokens.claims(token)
    # A write's gate asks Redis about the token with its counts, in one round trip (gate.py),
    # and it is not verified until the gate has asked.
    at_gate = kept.get("revocation_at_gate")
    if not at_gate and _is_blocked(claims):
        raise ApiError(401, REVOKED)
    if not at_gate:
        kept.verified_token = (places, claims)
    return claims


def _is_blocked(claims: dict) -> bool:
    # A token without jti is named by no revocation (README, "Tokens and revocation").
    jti = claims.get("jti")
    return jti is not None and is_revoked(jti)


def _presented_token(asked, places) -> str | None:
    """The token Flask-JWT-Extended would read from the request ``asked``, where it is
    plainly there, looking in ``places`` in order as the library does: a header of just
    ``Bearer <token>``, the body's ``authToken`` or the ``scoreboard_token`` cookie. None
    for any other shape, or no token, which the library reads or refuses itself."""
    for place in places:
        if place == "headers":
            header = asked.headers.get(HEADER, "").strip()
            if header:
                match = BEARER.fullmatch(header)
                return match[1] if match else None
        elif place == "json":
            body = asked.get_json(silent=True)
            token = body.get(JSON_KEY) if isinstance(body, dict) else None
            if token:
                return token if isinstance(token, str) else None
        elif place == "cookies":
            token = asked.cookies.get(COOKIE)
            if token:
                # A cookie on a write must come with a CSRF token, which the library checks;
                # the streams that read cookies are GETs.
                return token if asked.method == "GET" else None
    return None


def _token_places(asked) -> list[str]:
    """Where a request's token may be: the header, else the body's ``authToken`` if the body
    is a JSON object. Flask-JWT-Extended looks the field up in whatever JSON it finds (when
    the header is absent or malformed), and a list or a number for a body failed there with
    a 500. Flask caches the parse, so the view's own read of the body costs no second one."""
    return TOKEN_PLACES if isinstance(asked.get_json(silent=True), dict) else ["headers"]


def authenticate_admin() -> dict:
    """The claims of an admin's token: 401 without a valid token, 403 when its ``role``
    claim is not one of ``ADMIN_ROLES``."""
    claims = authenticate()
    role = claims.get("role")
    if not isinstance(role, str) or role not in current_app.config["ADMIN_ROLES"]:
        raise Forbidden("Admin role required.")
    return claims


def issue_token(user_id: str, *, name=None, region=None, role=None, ttl: int = 3600) -> str:
    """A signed development token; production tokens come from the identity provider."""
    claims = {k: v for k, v in (("name", name), ("region", region), ("role", role)) if v}
    return create_access_token(
        identity=user_id,
        additional_claims=claims,
        expires_delta=timedelta(seconds=ttl),
    )
