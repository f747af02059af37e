"""The moderation API, for admins only: each view checks its input, calls one moderation
function and shapes the reply."""

import secrets

from flask import g, jsonify, request

from .. import identity
from ..core.contract import Blank, Body, Choice, Query, Text, Whole
from ..core.errors import BadRequest
from ..data import reconnect
from ..ops import logs
from ..play import moderation
from .api import PLAYER, client_address, query

bp = reconnect.Blueprint("admin", __name__, url_prefix="/api/admin")

REASON_ONLY = Body({"reason": moderation.REASON})  # the body of hide, unhide, ban and unban
ADJUSTMENT = Body({"delta": moderation.DELTA, "reason": moderation.REASON})
# An empty parameter is one not given. Event ids are BIGINT: a larger one is no page's next.
AUDIT = Query(userId=Blank(PLAYER), outcome=Blank(Choice(*moderation.OUTCOMES)),
              before=Blank(Whole(1, 2**63 - 1, description="the next of the previous page")),
              limit=Blank(Whole(1, 100, default=50)))
# Visible ASCII, so a UUID, a base64 digest or the quoted form of the IETF draft all fit.
IDEMPOTENCY_KEY = Text(
    r"[!-~]{1,64}", message="Idempotency-Key must be 1 to 64 visible ASCII characters.",
    description="the act's key: repeated with the same key, the act is answered again and "
                "not applied twice")


@bp.before_request
def require_admin():
    # A preflight carries no token; Flask answers it without a view, and cors.py grants it.
    if request.method != "OPTIONS":
        g.admin = identity.authenticate_admin()
        # A banned admin can do nothing here, reads included, until another lifts the ban:
        # a ban ends an admin's token that no revocation can name (one without jti).
        reconnect.once_more(moderation.refuse_banned, g.admin["sub"])


def _actor() -> moderation.Actor:
    return moderation.Actor(g.admin["sub"], logs.current_request_id(), client_address(),
                            _idempotency_key())


def _idempotency_key() -> str:
    """The client's Idempotency-Key, else one made for this request: the same for the
    request's run again after a dropped connection (reconnect.py)."""
    given = request.headers.get("Idempotency-Key")
    if given is None:
        return g.setdefault("idempotency_key", secrets.token_urlsafe(16))
    if not IDEMPOTENCY_KEY.fits(given):
        raise BadRequest(IDEMPOTENCY_KEY.message)
    return given


def _reason() -> str:
    return REASON_ONLY.read()["reason"]


@bp.post("/players/<player:user_id>/hide")
def hide(user_id):
    return jsonify(moderation.hide(_actor(), user_id, _reason()))


@bp.post("/players/<player:user_id>/unhide")
def unhide(user_id):
    return jsonify(moderation.unhide(_actor(), user_id, _reason()))


@bp.post("/players/<player:user_id>/ban")
def ban(user_id):
    return jsonify(moderation.ban(_actor(), user_id, _reason()))


@bp.post("/players/<player:user_id>/unban")
def unban(user_id):
    return jsonify(moderation.unban(_actor(), user_id, _reason()))


@bp.post("/players/<player:user_id>/adjust")
def adjust(user_id):
    body = ADJUSTMENT.read()
    return jsonify(moderation.adjust(_actor(), user_id, body["delta"], body["reason"]))


@bp.get("/audit")
def audit():
    filters = query(AUDIT.read)
    return jsonify(moderation.audit_page(user_id=filters.get("userId"),
                                         outcome=filters.get("outcome"),
                                         before=filters.get("before"), limit=filters["limit"]))
