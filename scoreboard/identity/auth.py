"""JWT authentication: verification rules, revocation by ``jti`` and development tokens."""

import logging
import re
from datetime import UTC, datetime, timedelta

from flask import current_app, g, request
from flask_jwt_extended import create_access_token, get_jwt, verify_jwt_in_request
from sqlalchemy import select

from ..adapters.store import StoreUnavailable
from ..core import clock, names
from ..core.contract import USER_ID
from ..core.errors import ApiError, Forbidden, error_response
from ..core.services import services
from ..data.db import db, insert_ignoring_duplicates
from ..data.models import RevokedToken
from .token_memory import RememberingJWTManager

log = logging.getLogger(__name__)

PUBLIC_KEY_ALGORITHMS = ("RS256", "ES256")
TOKEN_PLACES = ["headers", "json"]
HEADER, HEADER_TYPE, JSON_KEY = "Authorization", "Bearer", "authToken"
BEARER = re.compile(rf"{HEADER_TYPE} ([^\s,]+)")
REVOKED = "Authentication token has been revoked."
INVALID = "Invalid authentication token."
# A token id as issuers write them (UUIDs, hex, base64url), short enough to be stored as a
# revocation (models.RevokedToken): printable ASCII.
JTI = re.compile(r"[\x21-\x7e]{1,128}")
# The last moment a datetime can hold: a token's exp past it could not be stored or compared.
LAST_EXPIRY = datetime(9999, 12, 31, tzinfo=UTC).timestamp()

jwt = RememberingJWTManager()


def configure(app) -> None:
    """Map our settings onto Flask-JWT-Extended's and bind it."""
    config = app.config
    algorithm = config["JWT_ALGORITHM"]
    if algorithm not in ("HS256",) + PUBLIC_KEY_ALGORITHMS:
        raise ValueError(f"JWT_ALGORITHM must be HS256, RS256 or ES256, not {algorithm!r}")
    # Exactly one accepted algorithm: an HS256 token "signed" with the RS256 public key, or an
    # unsigned one, is refused before its signature is even looked at.
    config["JWT_DECODE_ALGORITHMS"] = [algorithm]
    config["JWT_TOKEN_LOCATION"] = TOKEN_PLACES
    config["JWT_HEADER_NAME"], config["JWT_HEADER_TYPE"] = HEADER, HEADER_TYPE
    config["JWT_JSON_KEY"] = JSON_KEY
    # Where a stream's token may travel instead, since EventSource cannot send headers.
    config["JWT_QUERY_STRING_NAME"] = "token"
    config["JWT_ACCESS_COOKIE_NAME"] = "scoreboard_token"
    config["JWT_DECODE_LEEWAY"] = config["JWT_LEEWAY"]
    config["JWT_DECODE_ISSUER"] = config["JWT_ISSUER"]
    config["JWT_ENCODE_ISSUER"] = config["JWT_ISSUER"]
    config["JWT_DECODE_AUDIENCE"] = config["JWT_AUDIENCE"]
    config["JWT_ENCODE_AUDIENCE"] = config["JWT_AUDIENCE"]
    config["JWT_ERROR_MESSAGE_KEY"] = "error"
    jwt.init_app(app)


def _unauthorized(message):
    return error_response(401, message)


@jwt.unauthorized_loader
def _missing_token(reason):
    return _unauthorized("Missing authentication token.")


@jwt.invalid_token_loader
def _invalid_token(reason):
    return _unauthorized(INVALID)


@jwt.expired_token_loader
def _expired_token(header, payload):
    return _unauthorized("Authentication token has expired.")


def _is_blocked(claims: dict) -> bool:
    # A token without jti is named by no revocation (README, "Tokens and revocation").
    jti = claims.get("jti")
    # A write's gate asks Redis about the token with its counts, in one round trip (gate.py).
    return jti is not None and not g.get("revocation_at_gate") and is_revoked(jti)


def authenticate(locations=None) -> dict:
    """Verify the request's token (header or ``authToken`` body field, unless ``locations``
    says where else to look) and return its claims. A token accepted before is only checked
    for expiry and revocation again (token_memory.py)."""
    places = locations or _token_places()
    token = _presented_token(places)
    claims = jwt.accepted(token) if token else None
    if claims is None:
        # Revocation is asked below, once the claims are known to be usable: the look-up
        # of a jti the blocklist cannot hold would fail.
        verify_jwt_in_request(locations=places, skip_revocation_check=True)
        claims = get_jwt()
        _check_claims(claims)
        if token:
            jwt.accept(token, claims)
    if _is_blocked(claims):
        raise ApiError(401, REVOKED)
    return claims


def _check_claims(claims: dict) -> None:
    """401 for a verified token whose claims the service cannot use: no ``exp``, or one
    that is no moment (PyJWT accepts a string of digits, or a year past 9999); a ``sub``
    that is no player id; a ``jti`` the blocklist cannot hold; a ``name`` no player may
    show (names.py); an audience when none is configured. Refused here, the token fails on
    every route alike, and nothing of it is stored. An unusable ``region`` is only dropped
    (players.arriving), as is a ``role`` no admin has."""
    if "exp" not in claims:
        raise ApiError(401, "Authentication token must expire.")
    if "aud" in claims and not current_app.config["JWT_AUDIENCE"]:
        # A token addressed to some other service is not ours to accept.
        raise ApiError(401, INVALID)
    sub, exp, jti = claims["sub"], claims["exp"], claims.get("jti")
    usable = (isinstance(sub, str) and USER_ID.fullmatch(sub)
              and isinstance(exp, (int, float)) and not isinstance(exp, bool)
              and exp < LAST_EXPIRY
              and (jti is None or isinstance(jti, str) and JTI.fullmatch(jti)))
    if not usable:
        raise ApiError(401, INVALID)
    try:
        names.from_claim(claims.get("name"))
    except ValueError:
        raise ApiError(401, "Invalid authentication token: its name claim holds control or "
                            "format characters, which no name may.") from None


def _presented_token(places) -> str | None:
    """The token Flask-JWT-Extended reads from this request, where it is plainly there: a
    header of just ``Bearer <token>``, else (no such header at all) the body's
    ``authToken``. None for any other shape, which the library reads or refuses itself."""
    if "headers" in places:
        header = request.headers.get(HEADER, "").strip()
        if header:
            match = BEARER.fullmatch(header)
            return match[1] if match else None
    if "json" in places:
        body = request.get_json(silent=True)
        token = body.get(JSON_KEY) if isinstance(body, dict) else None
        return token if isinstance(token, str) and token else None
    return None


def _token_places() -> list[str]:
    """Where a request's token may be: the header, else the body's ``authToken`` if the body
    is a JSON object. Flask-JWT-Extended looks the field up in whatever JSON it finds (when
    the header is absent or malformed), and a list or a number for a body failed there with
    a 500. Flask caches the parse, so the view's own read of the body costs no second one."""
    return TOKEN_PLACES if isinstance(request.get_json(silent=True), dict) else ["headers"]


def authenticate_admin() -> dict:
    """The claims of an admin's token: 401 without a valid token, 403 when its ``role``
    claim is not one of ``ADMIN_ROLES``."""
    claims = authenticate()
    role = claims.get("role")
    if not isinstance(role, str) or role not in current_app.config["ADMIN_ROLES"]:
        raise Forbidden("Admin role required.")
    return claims


def is_revoked(jti: str) -> bool:
    """Redis's copy answers when it can; the database, which holds every revocation,
    otherwise (and always without Redis)."""
    blocklist = services().blocklist
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
    # (PyJWT, token_memory), never on the app's clock, which tests may fix in the past.
    rows = db.session.scalars(select(RevokedToken.jti)
                              .where(RevokedToken.expires_at > clock.system_now()))
    return list(rows)


def revoke(jti: str, expires_at) -> bool:
    """Revoke a token id for good: the database first, then Redis's copy. False when only
    the database has it yet: workers then see it at their next blocklist refresh."""
    values = {"jti": jti, "expires_at": expires_at}
    db.session.execute(insert_ignoring_duplicates(RevokedToken, values))
    db.session.commit()
    blocklist = services().blocklist
    if blocklist is None:
        return True
    try:
        blocklist.add_revoked(jti)
    except StoreUnavailable:
        log.warning("revocation of %s stored in the database only until redis returns", jti)
        return False
    return True


def issue_token(user_id: str, *, name=None, region=None, role=None, ttl: int = 3600) -> str:
    """A signed development token; production tokens come from the identity provider."""
    claims = {k: v for k, v in (("name", name), ("region", region), ("role", role)) if v}
    return create_access_token(
        identity=user_id,
        additional_claims=claims,
        expires_delta=timedelta(seconds=ttl),
    )
