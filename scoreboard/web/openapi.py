"""The OpenAPI 3.1 document of the HTTP API, served at GET /api/openapi.json.

It is built from the app itself, once per app: its routes (each endpoint must have an
entry in OPERATIONS, or building fails), the patterns of their path converters, and the
Body and Query objects the views check requests with (contract.py), so the document
describes what the service accepts and nothing else. What an operation can answer is what
its parts can (a body: 400, 413, 415; a required token: 401; an id in the path: 404; a
player's write, which a ban refuses: 403; any route Flask-Limiter or the read counter
limits: 429; the database: 503) and what its entry names for its own rules.
"""

import json
import re

from flask import Response, current_app

from ..boards import views
from ..data import reconnect
from ..play import moderation, scoring
from . import admin, api, stream
from .operations import OPERATIONS, TOKEN, Operation, json_content, ref

bp = reconnect.Blueprint("openapi", __name__)


# The schemas the operations refer to (operations.ref).
SCHEMAS = {
    "Error": {"type": "object", "required": ["success", "error"], "properties": {
        "success": {"const": False}, "error": {"type": "string"},
        "code": {"type": "string", "description": "a stable name for an error a client may "
                                                  "act on, such as the limit a 409 hit"}}},
    "Action": {"type": "object", "required": ["id", "points", "minSeconds", "cooldownSeconds",
                                              "dailyLimit"], "properties": {
        "id": {"type": "string"}, "points": {"type": "integer"},
        "minSeconds": {"type": "integer"}, "cooldownSeconds": {"type": "integer"},
        "dailyLimit": {"type": ["integer", "null"]}}},
    "Ticket": {"type": "object", "required": ["actionId", "actionType", "points", "expiresAt",
                                              "notBefore"], "properties": {
        "actionId": {"type": "string"}, "actionType": {"type": "string"},
        "points": {"type": "integer"}, "expiresAt": {"type": "string", "format": "date-time"},
        "notBefore": {"type": "string", "format": "date-time"}}},
    "UpdateReply": {"type": "object", "required": ["success", "message", "updatedScore"],
                    "properties": {
                        "success": {"const": True},
                        "message": {"const": api.UPDATED},
                        "updatedScore": {"type": "integer"}}},
    "Profile": {"type": "object", "required": ["userId", "displayName", "region", "score"],
                "properties": {
                    "userId": {"type": "string"}, "displayName": {"type": "string"},
                    "region": {"type": ["string", "null"]}, "score": {"type": "integer"}}},
    "GroupEntry": {"type": "object", "required": ["groupId", "name", "ownerId"], "properties": {
        "groupId": {"type": "string"}, "name": {"type": "string"},
        "ownerId": {"type": "string"}}},
    "Group": {"allOf": [ref("GroupEntry"), {"type": "object", "required": ["members"],
                                              "properties": {"members": {
        "type": "array", "items": {"type": "object", "required": ["userId", "displayName"],
                                   "properties": {"userId": {"type": "string"},
                                                  "displayName": {"type": "string"}}}}}}]},
    "Invitation": {"type": "object", "required": ["groupId", "name", "ownerId", "ownerName",
                                                  "userId", "invitedAt"], "properties": {
        "groupId": {"type": "string"}, "name": {"type": "string"},
        "ownerId": {"type": "string"}, "ownerName": {"type": "string"},
        "userId": {"type": "string", "description": "the invited player"},
        "invitedAt": {"type": "string", "format": "date-time"}}},
    "Rank": {"type": "object", "required": ["userId", "displayName", "region", "score", "rank"],
             "properties": {
                 "userId": {"type": "string"}, "displayName": {"type": "string"},
                 "region": {"type": ["string", "null"]}, "score": {"type": "integer"},
                 "rank": {"type": ["integer", "null"],
                          "description": "null when not on the view"}}},
    "AuditEvent": {"type": "object", "properties": {
        "id": {"type": "integer"}, "at": {"type": "string", "format": "date-time"},
        "userId": {"type": "string"},
        "actor": {"type": ["string", "null"],
                  "description": "null: the player's own play; else an admin's sub, or "
                                 "cli:<os user> for the command line"},
        "outcome": {"enum": list(moderation.OUTCOMES)},
        "actionType": {"type": ["string", "null"]},
        "delta": {"type": "integer"}, "scoreAfter": {"type": ["integer", "null"]},
        "reason": {"type": ["string", "null"],
                   "description": "a refusal's message, or an admin's reason"},
        "count": {"type": "integer", "minimum": 1,
                  "description": "the attempts the event stands for: 1, or for rate_limited "
                                 "the player's refusals in the minute starting at `at`"},
        "requestId": {"type": ["string", "null"]}, "clientIp": {"type": ["string", "null"]}}},
    "StreamTicket": {"type": "object", "required": ["ticket", "expiresIn"], "properties": {
        "ticket": stream.TICKET.schema({}),
        "expiresIn": {"type": "integer", "minimum": 1, "description": "seconds left to use it"}}},
    "Board": {"type": "object", "required": ["topScores", "version"], "properties": {
        "version": {"type": "integer", "description": "only ever goes up"},
        "topScores": {"type": "array", "items": {
            "type": "object", "required": ["userId", "score", "rank", "displayName"],
            "properties": {"userId": {"type": "string"}, "score": {"type": "integer"},
                           "rank": {"type": "integer"}, "displayName": {"type": "string"}}}}}},
}


CONVERTER = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
BANNED = f"403 `{scoring.REFUSALS['banned'][1]}` for a banned player's token."


def document(app) -> dict:
    """The document of ``app``'s routes under its configuration."""
    paths = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        operation = OPERATIONS[rule.endpoint]
        path = CONVERTER.sub(r"{\2}", rule.rule)
        ids = [(name, app.url_map.converters[kind or "default"].regex)
               for kind, name in CONVERTER.findall(rule.rule)]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(
                rule.endpoint, method, operation, ids, app.config)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Live Scoreboard", "version": "1.0.0",
                 "description": "Scores that rise only for completed actions; a live top 10."},
        "components": {
            "schemas": SCHEMAS,
            "responses": {
                "Error": json_content(ref("Error"), "An error"),
                "TooManyRequests": {**json_content(ref("Error"), "Over a rate limit"), "headers": {
                    "Retry-After": {"required": True, "description": "seconds to wait",
                                    "schema": {"type": "string", "pattern": "^[0-9]+$"}}}},
            },
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "scoreboard_token"},
            },
        },
        "paths": paths,
    }


def _operation(endpoint: str, method: str, operation: Operation, ids: list, config) -> dict:
    errors = set(operation.errors)
    description = operation.description
    if api.refuses_banned(endpoint, method):
        errors.add(403)
        description = " ".join(filter(None, (description, BANNED)))
    parameters = [{"name": name, "in": "path", "required": True,
                   "schema": {"type": "string", "pattern": f"^(?:{regex})$"}}
                  for name, regex in ids]
    if ids:
        errors.add(404)  # an id of no player or group, or of a form none can have
    if operation.query:
        parameters += operation.query.parameters(config)
        errors.add(400)
    if operation.view:
        parameters.append({"name": "view", "in": "query", "style": "form", "explode": True,
                           "schema": views.query_schema(config),
                           "description": "which board: `period` (all, week, day) and `at` "
                                          "(a past day or week), `region`, or `group`"})
        errors.update((400, 404))  # 404: a group or a past window that does not exist
    parameters += [{"name": name, "in": "header", "schema": {"type": "string"},
                    "description": description} for name, description in operation.headers]
    if operation.idempotent:
        parameters.append({"name": "Idempotency-Key", "in": "header",
                           "schema": admin.IDEMPOTENCY_KEY.schema(config)})
        errors.update((400, 422))
    spec = {"operationId": endpoint, "summary": operation.summary}
    if description:
        spec["description"] = description
    if parameters:
        spec["parameters"] = parameters
    if operation.body:
        spec["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": operation.body.schema(config)}}}
        errors.update(operation.body.statuses)
    if operation.security is not None:
        spec["security"] = operation.security
        if operation.security == TOKEN:
            errors.add(401)
    if operation.limited:
        errors.add(429)
    if endpoint.startswith(("api.", "admin.", "stream.")):
        errors.add(503)  # the database is away (or, for a stream, the server restarting)
    spec["responses"] = {**operation.replies, **{
        str(status): {"$ref": "#/components/responses/"
                              + ("TooManyRequests" if status == 429 else "Error")}
        for status in sorted(errors)}}
    return spec


@bp.get("/api/openapi.json")
def openapi_document():
    encoded = current_app.extensions.get("openapi")
    if encoded is None:
        encoded = current_app.extensions["openapi"] = json.dumps(document(current_app)).encode()
    return Response(encoded, mimetype="application/json")
