"""The JSON API: each view checks its input, calls one service function and shapes the reply."""

import re
from datetime import UTC, datetime

from flask import Response, current_app, g, jsonify, request
from flask_jwt_extended.exceptions import JWTExtendedException
from jwt import PyJWTError
from werkzeug.routing import BaseConverter

from .. import identity
from ..boards import leaderboard, ranks, views
from ..core import clock, meters, periods
from ..core.contract import USER_ID, Body, Name, Nullable, Query, Text, Whole
from ..core.errors import ApiError, BadRequest
from ..data import reconnect
from ..ops import logs
from ..play import actions, groups, moderation, players, scoring
from . import reads
from .gate import PlayerOverLimit, count_read, counts_refusals, pass_gate

bp = reconnect.Blueprint("api", __name__, url_prefix="/api")

PLAYER = Text(USER_ID.pattern)


class PlayerId(BaseConverter):
    """A path segment that can be a player's id. Any other is a 404 before a view runs:
    no player has it, and PostgreSQL refuses some (a NUL) with an error."""

    regex = PLAYER.regex.pattern


class GroupId(BaseConverter):
    regex = views.GROUP.regex.pattern


# <player:user_id>, <group:group_id>
CONVERTERS = {"player": PlayerId, "group": GroupId}

# What each route's body and query may hold (openapi.py renders the same objects).
START = Body({"actionType": Text(r"[a-z0-9_-]{1,32}")})
# A token this long, beside the longest userId and actionId, keeps an update's body within
# the default MAX_BODY_BYTES (4096), so the body limit never refuses a body the document allows.
MAX_TOKEN_LENGTH = 3072
UPDATED = "Score updated successfully."  # the reply's message to an accepted update
UPDATE = Body({"userId": PLAYER, "actionId": Text(r"[A-Za-z0-9_-]{16,64}")}, {
    "authToken": Text(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*",
                      max_length=MAX_TOKEN_LENGTH,
                      description="the JWT, when no Authorization header carries it")})
PROFILE = Body({}, {
    "displayName": Name("displayName"),
    "region": Nullable(views.REGION)}, least=1, message="Send displayName and/or region.")
NEW_GROUP = Body({"name": Name("name")})
MEMBER = Body({"userId": PLAYER})
AROUND = Query(radius=Whole(1, 50, default=5))
# What an IPv4 or IPv6 address is written with (the audit log keeps 64 characters).
ADDRESS = re.compile(r"[0-9A-Fa-f.:]{2,45}")

# The outcomes of an update in scoreboard_score_updates_total: scoring's own (accepted,
# replayed, a refusal of scoring.REFUSALS), or else the status of a refusal before it (a bad
# token is Flask-JWT-Extended's or PyJWT's exception, and a 401)...
REFUSED_BEFORE_SCORING = {400: "invalid", 413: "invalid", 415: "invalid",
                          401: "unauthenticated", 403: "forbidden", 429: "rate_limited"}
UPDATE_OUTCOMES = ("accepted", "replayed", *scoring.REFUSALS,
                   *dict.fromkeys(REFUSED_BEFORE_SCORING.values()), "error")  # ...or a failure


# A ban refuses a player's every write (groups, profile, invitations, plays) but sign-out,
# which only takes power away. Start and update read the ban in the one statement they run
# anyway (actions.py, rules.py), so the check before them would be a round trip more.
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
OPEN_TO_BANNED = frozenset({"api.revoke_token"})
BAN_READ_BY_STATEMENT = frozenset({"api.start_action", "api.update_score"})


def refuses_banned(endpoint: str, method: str) -> bool:
    """Whether a banned player's token gets 403 ``Player is banned.`` on this route."""
    return (endpoint.startswith(f"{bp.name}.") and method in WRITE_METHODS
            and endpoint not in OPEN_TO_BANNED)


def init_app(app) -> None:
    """Register the API, its path converters first (admin's routes use them too)."""
    app.url_map.converters.update(CONVERTERS)
    app.register_blueprint(bp)
    for outcome in UPDATE_OUTCOMES:
        meters.SCORE_UPDATES.labels(outcome)  # shown from the start, at 0


@bp.before_request
def refuse_banned_writes():
    # Every write of the API passes here, a route added later too; a dropped connection
    # costs one retry, as in a view (reconnect.py).
    endpoint = request.endpoint
    if refuses_banned(endpoint, request.method) and endpoint not in BAN_READ_BY_STATEMENT:
        reconnect.once_more(moderation.refuse_banned, identity.authenticate()["sub"])


@bp.get("/actions")
def list_actions():
    return jsonify(actions=actions.list_actions())


@bp.post("/actions/start")
@counts_refusals
def start_action():
    body = START.read()
    claims = pass_gate("RATELIMIT_START")
    ticket = actions.start_action(claims, body["actionType"])
    reply = {
        "actionId": ticket.id,
        "actionType": ticket.action_type,
        "points": ticket.points,
        "expiresAt": clock.iso(ticket.expires_at),
        "notBefore": clock.iso(ticket.not_before),
    }
    return jsonify(reply), 201


@bp.post("/scores/update")
@counts_refusals
def update_score():
    try:
        score = _update_score()
    except Exception as refused:
        meters.count_update(g.get("update_outcome") or _refused_before_scoring(refused))
        raise
    meters.count_update(g.update_outcome)
    return jsonify(success=True, message=UPDATED, updatedScore=score)


def _refused_before_scoring(error: Exception) -> str:
    if isinstance(error, (JWTExtendedException, PyJWTError)):
        return "unauthenticated"
    return REFUSED_BEFORE_SCORING.get(getattr(error, "code", None), "error")


def _update_score() -> int:
    body = UPDATE.read()
    try:
        claims = pass_gate("RATELIMIT_UPDATE")
    except PlayerOverLimit as refused:
        scoring.count_over_limit(_attempt(refused.user_id, body), refused)
        raise
    return scoring.complete_action(_attempt(claims["sub"], body))


def _attempt(user_id: str, body: dict) -> scoring.Attempt:
    asked = request._get_current_object()  # one look-up through the proxy (auth.authenticate)
    return scoring.Attempt(user_id=user_id, ticket_id=body["actionId"],
                           request_id=logs.current_request_id(asked),
                           client_ip=client_address(asked), named_user=body["userId"])


def client_address(asked=None) -> str | None:
    """The client's address, as the audit log keeps it. Behind PROXY_HOPS proxies it is the
    one X-Forwarded-For names, which a client writes itself when it passes fewer proxies
    than configured: 400 for one that is no address, before anything is written.
    ``asked``: the request, when the caller holds it already."""
    address = (request if asked is None else asked).remote_addr
    if current_app.config["PROXY_HOPS"] and not ADDRESS.fullmatch(address or ""):
        raise BadRequest("X-Forwarded-For must end with the client's IP address.")
    return address


def asked_view() -> views.View:
    """The view the query string asks for. A group's board is for its members only, so it
    needs a token, and is shown no longer than the token lasts (a stream of it is opened
    with a ticket instead: stream.py)."""
    view = query(views.parse, clock.now(), current_app.config)
    if view.group:
        claims = identity.authenticate(locations=["headers"])
        groups.require_member(view.group, claims["sub"])
        view = view.closing_by(from_timestamp(claims["exp"]))
    return view


def query(parse, *args, given=None):
    """``parse(request.args, *args)``, or of the arguments ``given`` (a body's) instead;
    its ValueError is the client's mistake, a 400, and a well-formed name of nothing (a day
    the calendar lacks) is a 404."""
    try:
        return parse(request.args if given is None else given, *args)
    except ValueError as error:
        raise BadRequest(f"{error}.") from None
    except periods.NoSuchWindow as error:
        raise ApiError(404, str(error)) from None


@bp.get("/scores/top")
def top_scores():
    count_read()
    limit = query(reads.page_size)
    view = asked_view()
    snapshot = leaderboard.fresh_snapshot(view)
    status, headers, body = reads.top_reply(
        view, snapshot, limit, request.headers.get("If-None-Match"))
    return Response(body, status=status, headers=headers)


@bp.get("/scores/users/<player:user_id>")
def player_rank(user_id):
    return jsonify(ranks.rank_of(asked_view(), user_id))


@bp.get("/scores/users/<player:user_id>/around")
def players_around(user_id):
    radius = query(AROUND.read)["radius"]
    return jsonify(ranks.around(asked_view(), user_id, radius))


@bp.get("/users/me")
def my_profile():
    return jsonify(players.get_profile(identity.authenticate()))


@bp.put("/users/me")
def update_my_profile():
    body = PROFILE.read()
    return jsonify(players.update_profile(identity.authenticate(), body))


@bp.get("/users/me/groups")
def my_groups():
    return jsonify(groups=groups.my_groups(identity.authenticate()))


@bp.get("/users/me/invitations")
def my_invitations():
    return jsonify(invitations=groups.my_invitations(identity.authenticate()))


@bp.delete("/users/me/invitations/<group:group_id>")
def decline_invitation(group_id):
    groups.decline(identity.authenticate(), group_id)
    return jsonify(success=True, message="Invitation declined.")


@bp.post("/groups")
def create_group():
    body = NEW_GROUP.read()
    return jsonify(groups.create_group(identity.authenticate(), body["name"])), 201


@bp.get("/groups/<group:group_id>")
def get_group(group_id):
    return jsonify(groups.get_group(identity.authenticate(), group_id))


@bp.delete("/groups/<group:group_id>")
def delete_group(group_id):
    groups.delete_group(identity.authenticate(), group_id)
    return jsonify(success=True, message="Group deleted.")


@bp.post("/groups/<group:group_id>/members")
def invite_group_member(group_id):
    body = MEMBER.read()
    invitation, created = groups.invite(identity.authenticate(), group_id, body["userId"])
    return jsonify(invitation), 201 if created else 200


@bp.post("/groups/<group:group_id>/join")
def join_group(group_id):
    return jsonify(groups.join(identity.authenticate(), group_id))


@bp.get("/groups/<group:group_id>/invitations")
def group_invitations(group_id):
    return jsonify(invitations=groups.group_invitations(identity.authenticate(), group_id))


@bp.delete("/groups/<group:group_id>/invitations/<player:user_id>")
def revoke_group_invitation(group_id, user_id):
    groups.revoke_invitation(identity.authenticate(), group_id, user_id)
    return jsonify(success=True, message="Invitation revoked.")


@bp.delete("/groups/<group:group_id>/members/<player:user_id>")
def remove_group_member(group_id, user_id):
    return jsonify(groups.remove_member(identity.authenticate(), group_id, user_id))


@bp.post("/auth/revoke")
def revoke_token():
    """Revoke the token this request carries (sign-out)."""
    claims = identity.authenticate()
    if claims.get("jti") is None:
        raise BadRequest("Token has no jti and cannot be revoked.")
    identity.revoke(claims["jti"], from_timestamp(claims["exp"]))
    return jsonify(success=True, message="Token revoked.")


def from_timestamp(seconds):
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)
