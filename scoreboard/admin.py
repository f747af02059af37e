"""The moderation API, for admins only: each view checks its input, calls one moderation
function and shapes the reply."""

import re

from flask import Blueprint, g, jsonify, request

from . import auth, moderation, views
from .api import json_body, query
from .players import USER_ID

bp = Blueprint("admin", __name__, url_prefix="/api/admin")

# The body's size is bounded (MAX_CONTENT_LENGTH); the service says what a reason must be.
REASON = re.compile(r".*", re.DOTALL)
EVENT_ID = re.compile(r"[1-9][0-9]{0,18}")
LAST_EVENT_ID = 2**63 - 1  # ids are BIGINT: a larger one is no page's next


@bp.before_request
def require_admin():
    # A preflight carries no token; Flask answers it without a view, and cors.py grants it.
    if request.method != "OPTIONS":
        g.admin = auth.authenticate_admin()


def _actor() -> moderation.Actor:
    return moderation.Actor(g.admin["sub"], g.request_id, request.remote_addr)


def _reason() -> str:
    return json_body({"reason": REASON})["reason"]


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
    body = json_body({"delta": int, "reason": REASON})
    return jsonify(moderation.adjust(_actor(), user_id, body["delta"], body["reason"]))


@bp.get("/audit")
def audit():
    return jsonify(moderation.audit_page(**query(audit_filters)))


def audit_filters(args) -> dict:
    """The audit query a query string asks for (an empty parameter is one not given);
    ValueError with a reason for a bad one."""
    args = {name: value for name, value in args.items() if value}
    filters = {"limit": views.whole_number(args, "limit", 50, 100)}
    user_id, outcome, before = args.get("userId"), args.get("outcome"), args.get("before")
    if user_id is not None:
        if not USER_ID.fullmatch(user_id):
            raise ValueError("userId must be a player id")
        filters["user_id"] = user_id
    if outcome is not None:
        if outcome not in moderation.OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(moderation.OUTCOMES)}")
        filters["outcome"] = outcome
    if before is not None:
        if not EVENT_ID.fullmatch(before) or int(before) > LAST_EVENT_ID:
            raise ValueError("before must be the next of a previous page")
        filters["before"] = int(before)
    return filters
