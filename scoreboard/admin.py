"""The moderation API, for admins only: each view checks its input, calls one moderation
function and shapes the reply."""

from flask import Blueprint, g, jsonify, request

from . import auth, logs, moderation
from .api import PLAYER, client_address, query
from .contract import Blank, Body, Choice, Query, Whole

bp = Blueprint("admin", __name__, url_prefix="/api/admin")

REASON = Body({"reason": moderation.REASON})
ADJUSTMENT = Body({"delta": moderation.DELTA, "reason": moderation.REASON})
# An empty parameter is one not given. Event ids are BIGINT: a larger one is no page's next.
AUDIT = Query(userId=Blank(PLAYER), outcome=Blank(Choice(*moderation.OUTCOMES)),
              before=Blank(Whole(1, 2**63 - 1, description="the next of the previous page")),
              limit=Blank(Whole(1, 100, default=50)))


@bp.before_request
def require_admin():
    # A preflight carries no token; Flask answers it without a view, and cors.py grants it.
    if request.method != "OPTIONS":
        g.admin = auth.authenticate_admin()


def _actor() -> moderation.Actor:
    return moderation.Actor(g.admin["sub"], logs.current_request_id(), client_address())


def _reason() -> str:
    return REASON.read()["reason"]


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
