"""The OpenAPI 3.1 description of the HTTP API, served at GET /api/openapi.json."""

from flask import Blueprint, jsonify

from . import moderation

bp = Blueprint("openapi", __name__)


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict:
    return {str(s): {"$ref": "#/components/responses/Error"} for s in statuses}


BEARER = [{"bearer": []}]
ADMIN = "An admin's token (its `role` claim one of `ADMIN_ROLES`): 401 without a token, 403 " \
        "`Admin role required.` for anyone else. Audited with the admin's `sub` as actor."
LIMIT = {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                    "maximum": 100, "default": 10}}
VIEW = [
    {"name": "period", "in": "query", "schema": {"enum": ["all", "week", "day"]}},
    {"name": "at", "in": "query", "description": "a past window: 2026-W48 or 2026-11-27",
     "schema": {"type": "string"}},
    {"name": "region", "in": "query", "description": "ISO 3166-1 alpha-2",
     "schema": {"type": "string"}},
    {"name": "group", "in": "query",
     "description": "a friend group's board: members only, with a token (a stream may "
                    "pass it as ?token= or the scoreboard_token cookie); not with region",
     "schema": {"type": "string"}},
]
PLAYER = {"name": "user_id", "in": "path", "required": True, "schema": {"type": "string"}}

OUTCOMES = list(moderation.OUTCOMES)
REASON = {"type": "string", "minLength": 1, "maxLength": 200,
          "description": "why, for the audit log: printable, not only blanks"}

SCHEMAS = {
    "Error": {"type": "object", "required": ["success", "error"], "properties": {
        "success": {"const": False}, "error": {"type": "string"}}},
    "Action": {"type": "object", "properties": {
        "id": {"type": "string"}, "points": {"type": "integer"},
        "minSeconds": {"type": "integer"}, "cooldownSeconds": {"type": "integer"},
        "dailyLimit": {"type": ["integer", "null"]}}},
    "Ticket": {"type": "object", "properties": {
        "actionId": {"type": "string"}, "actionType": {"type": "string"},
        "points": {"type": "integer"}, "expiresAt": {"type": "string", "format": "date-time"},
        "notBefore": {"type": "string", "format": "date-time"}}},
    "UpdateRequest": {"type": "object", "additionalProperties": False,
                      "required": ["userId", "actionId"], "properties": {
                          "userId": {"type": "string", "pattern": "^[A-Za-z0-9_.@:-]{1,64}$"},
                          "authToken": {"type": "string",
                                        "description": "JWT; or send Authorization: Bearer"},
                          "actionId": {"type": "string", "pattern": "^[A-Za-z0-9_-]{16,64}$"}}},
    "UpdateReply": {"type": "object", "properties": {
        "success": {"const": True}, "message": {"const": "Score updated successfully."},
        "updatedScore": {"type": "integer"}}},
    "Profile": {"type": "object", "properties": {
        "userId": {"type": "string"}, "displayName": {"type": "string"},
        "region": {"type": ["string", "null"], "description": "ISO 3166-1 alpha-2"},
        "score": {"type": "integer"}}},
    "Group": {"type": "object", "properties": {
        "groupId": {"type": "string"}, "name": {"type": "string"},
        "ownerId": {"type": "string"},
        "members": {"type": "array", "items": {"type": "object", "properties": {
            "userId": {"type": "string"}, "displayName": {"type": "string"}}}}}},
    "Rank": {"type": "object", "properties": {
        "userId": {"type": "string"}, "displayName": {"type": "string"},
        "region": {"type": ["string", "null"]}, "score": {"type": "integer"},
        "rank": {"type": ["integer", "null"], "description": "null when not on the view"}}},
    "Reason": {"type": "object", "required": ["reason"], "additionalProperties": False,
               "properties": {"reason": REASON}},
    "Adjustment": {"type": "object", "required": ["delta", "reason"],
                   "additionalProperties": False, "properties": {
                       "delta": {"type": "integer", "not": {"const": 0},
                                 "description": "points to add (negative: take back), at most "
                                                "ADJUST_MAX either way (default 1000000)"},
                       "reason": REASON}},
    "AuditEvent": {"type": "object", "properties": {
        "id": {"type": "integer"}, "at": {"type": "string", "format": "date-time"},
        "userId": {"type": "string"},
        "actor": {"type": ["string", "null"],
                  "description": "null: the player's own play; else an admin's sub, or "
                                 "cli:<os user> for the command line"},
        "outcome": {"enum": OUTCOMES}, "actionType": {"type": ["string", "null"]},
        "delta": {"type": "integer"}, "scoreAfter": {"type": ["integer", "null"]},
        "reason": {"type": ["string", "null"],
                   "description": "a refusal's message, or an admin's reason"},
        "requestId": {"type": ["string", "null"]}, "clientIp": {"type": ["string", "null"]}}},
    "Board": {"type": "object", "properties": {
        "version": {"type": "integer", "description": "only ever goes up"},
        "topScores": {"type": "array", "items": {"type": "object", "properties": {
            "userId": {"type": "string"}, "score": {"type": "integer"},
            "rank": {"type": "integer"}, "displayName": {"type": "string"}}}}}},
}

def _moderation(summary: str, body: str, reply: dict) -> dict:
    return {"post": {
        "summary": summary, "description": ADMIN, "security": BEARER, "parameters": [PLAYER],
        "requestBody": {"required": True,
                        "content": {"application/json": {"schema": _ref(body)}}},
        "responses": {"200": _json({"type": "object", "properties": {
            "userId": {"type": "string"}, **reply}}, "Done"),
            **_errors(400, 401, 403, 404, 413, 415, 429)}}}


DOCUMENT = {
    "openapi": "3.1.0",
    "info": {"title": "Live Scoreboard", "version": "1.0.0",
             "description": "Scores that rise only for completed actions; a live top 10."},
    "components": {
        "schemas": SCHEMAS,
        "responses": {"Error": _json(_ref("Error"), "Error")},
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                       "bearerFormat": "JWT"}},
    },
    "paths": {
        "/api/actions": {"get": {
            "summary": "The action catalog",
            "responses": {"200": _json({"type": "object", "properties": {
                "actions": {"type": "array", "items": _ref("Action")}}}, "Enabled actions")}}},
        "/api/actions/start": {"post": {
            "summary": "Start an action: a single-use ticket bound to the token's user "
                       "(403 `Player is banned.` for a banned player)",
            "security": BEARER,
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["actionType"], "additionalProperties": False,
                "properties": {"actionType": {"type": "string"}}}}}},
            "responses": {"201": _json(_ref("Ticket"), "Ticket issued"),
                          **_errors(400, 401, 403, 413, 415, 429, 503)}}},
        "/api/scores/update": {"post": {
            "summary": "Complete an action; the score rises by its points (403 `Player is "
                       "banned.` for a banned player)",
            "security": BEARER,
            "requestBody": {"required": True,
                            "content": {"application/json": {"schema": _ref("UpdateRequest")}}},
            "responses": {"200": _json(_ref("UpdateReply"), "Score updated (or a retry)"),
                          **_errors(400, 401, 403, 413, 415, 429, 503)}}},
        "/api/scores/top": {"get": {
            "summary": "The top of the board, or of one view", "parameters": [LIMIT, *VIEW],
            "responses": {"200": _json(_ref("Board"), "Best first; strong ETag"),
                          "304": {"description": "Unchanged since If-None-Match"},
                          **_errors(400, 401, 403, 404, 503)}}},
        "/api/scores/users/{user_id}": {"get": {
            "summary": "A player's score and rank on a view", "parameters": [PLAYER, *VIEW],
            "responses": {"200": _json(_ref("Rank"), "Rank"),
                          **_errors(400, 401, 403, 404)}}},
        "/api/scores/users/{user_id}/around": {"get": {
            "summary": "The player and those just above and below",
            "parameters": [PLAYER, *VIEW, {"name": "radius", "in": "query", "schema": {
                "type": "integer", "minimum": 1, "maximum": 50, "default": 5}}],
            "responses": {"200": _json({"allOf": [_ref("Rank"), {"type": "object",
                                        "properties": {"around": {"type": "array"}}}]},
                                       "Rank and neighbours"),
                          **_errors(400, 401, 403, 404)}}},
        "/api/scores/stream": {"get": {
            "summary": "Server-Sent Events: `event: scoreboard`, `id: <version>`, data as /top",
            "parameters": [*VIEW],
            "responses": {"200": {"description": "An event stream",
                                  "content": {"text/event-stream": {}}},
                          **_errors(429, 503)}}},
        "/api/users/me": {
            "get": {"summary": "The token's player", "security": BEARER,
                    "responses": {"200": _json(_ref("Profile"), "Profile"), **_errors(401)}},
            "put": {"summary": "Set display name and/or region (null clears the region)",
                    "security": BEARER,
                    "requestBody": {"required": True, "content": {"application/json": {
                        "schema": {"type": "object", "additionalProperties": False,
                                   "minProperties": 1, "properties": {
                                       "displayName": {"type": "string", "minLength": 1,
                                                       "maxLength": 64},
                                       "region": {"type": ["string", "null"]}}}}}},
                    "responses": {"200": _json(_ref("Profile"), "Updated"),
                                  **_errors(400, 401, 413, 415)}}},
        "/api/users/me/groups": {"get": {
            "summary": "The groups the token's player is in", "security": BEARER,
            "responses": {"200": {"description": "groups: [{groupId, name, ownerId}]"},
                          **_errors(401)}}},
        "/api/groups": {"post": {
            "summary": "Create a friend group; its creator owns it", "security": BEARER,
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["name"], "additionalProperties": False,
                "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 64}}}}}},
            "responses": {"201": _json(_ref("Group"), "Created"), **_errors(400, 401)}}},
        "/api/groups/{group_id}": {
            "get": {"summary": "A group, for its members only", "security": BEARER,
                    "responses": {"200": _json(_ref("Group"), "The group"),
                                  **_errors(401, 403, 404)}},
            "delete": {"summary": "Delete a group (owner only)", "security": BEARER,
                       "responses": {"200": {"description": "Deleted"},
                                     **_errors(401, 403, 404)}}},
        "/api/groups/{group_id}/members": {"post": {
            "summary": "Add a member (owner only; capped)", "security": BEARER,
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["userId"], "additionalProperties": False,
                "properties": {"userId": {"type": "string"}}}}}},
            "responses": {"200": _json(_ref("Group"), "The group"),
                          **_errors(400, 401, 403, 404, 409)}}},
        "/api/groups/{group_id}/members/{user_id}": {"delete": {
            "summary": "Remove a member (owner), or leave (the member)", "security": BEARER,
            "responses": {"200": {"description": "Removed"}, **_errors(400, 401, 403, 404)}}},
        "/api/auth/revoke": {"post": {
            "summary": "Revoke the presented token until it expires", "security": BEARER,
            "responses": {"200": {"description": "Revoked"}, **_errors(400, 401)}}},
        "/api/admin/players/{user_id}/hide": _moderation(
            "Hide a player from every board, rank and stream at once (the board version "
            "moves and streams get a new frame); the score keeps counting",
            "Reason", {"hidden": {"const": True}}),
        "/api/admin/players/{user_id}/unhide": _moderation(
            "Show a hidden player again, with the score they have", "Reason",
            {"hidden": {"const": False}}),
        "/api/admin/players/{user_id}/ban": _moderation(
            "Ban a player: hidden, open tickets void, and start and update answer 403 "
            "`Player is banned.`", "Reason", {"banned": {"const": True}}),
        "/api/admin/players/{user_id}/unban": _moderation(
            "Lift a ban (the player stays hidden until unhidden)", "Reason",
            {"banned": {"const": False}}),
        "/api/admin/players/{user_id}/adjust": _moderation(
            "Add delta to the all-time score and the current day and week, as if gained "
            "now: 400 if it would take the all-time score below 0; a window's score stops "
            "at 0", "Adjustment", {"score": {"type": "integer"}}),
        "/api/admin/audit": {"get": {
            "summary": "The audit log, newest first, keyset-paged", "description": ADMIN,
            "security": BEARER, "parameters": [
                {"name": "userId", "in": "query", "schema": {"type": "string"}},
                {"name": "outcome", "in": "query", "schema": {"enum": OUTCOMES}},
                {"name": "before", "in": "query", "schema": {"type": "integer", "minimum": 1},
                 "description": "the next of the previous page"},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                            "maximum": 100, "default": 50}}],
            "responses": {"200": _json({"type": "object", "properties": {
                "events": {"type": "array", "items": _ref("AuditEvent")},
                "next": {"type": ["integer", "null"],
                         "description": "before= of the next page; null on the last"}}},
                "A page of events"), **_errors(400, 401, 403)}}},
        "/api/openapi.json": {"get": {"summary": "This document",
                                      "responses": {"200": {"description": "OpenAPI 3.1"}}}},
        "/healthz": {"get": {"summary": "Liveness",
                             "responses": {"200": {"description": "The process answers"}}}},
        "/readyz": {"get": {"summary": "Readiness: the database answers; Redis is reported",
                            "responses": {"200": {"description": "ok or degraded"},
                                          **_errors(503)}}},
        "/metrics": {"get": {"summary": "The instance's figures, summed over its workers, "
                                        "Prometheus text format (README: Metrics)",
                             "responses": {"200": {"description": "Metrics"}}}},
        "/": {"get": {"summary": "The live board page",
                      "responses": {"200": {"description": "HTML"}}}},
        "/embed": {"get": {"summary": "The live board alone, for an iframe of EMBED_ORIGINS",
                           "responses": {"200": {"description": "HTML"}}}},
    },
}


@bp.get("/api/openapi.json")
def openapi_document():
    return jsonify(DOCUMENT)
