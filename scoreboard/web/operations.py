"""What the routes do not say of themselves, for the OpenAPI document (openapi.py): each
endpoint's summary, replies, errors of its own rules, security, body and query. The schemas
they refer to (``ref``) are the document's components, in openapi.py."""

from dataclasses import dataclass

from ..core.contract import Body, Query
from . import admin, api, stream
from .reads import LIMIT


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def json_content(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


TOKEN = [{"bearer": []}]
# A view of a friend group needs a token; other views do not.
VIEW_TOKEN = [{}, {"bearer": []}]
ADMIN = "An admin's token (its `role` claim one of `ADMIN_ROLES`): 401 without a token, 403 " \
        "`Admin role required.` for anyone else, and `Player is banned.` for a banned admin. " \
        "Audited with the admin's `sub` as actor."
REPEAT = " Applied once per `Idempotency-Key` (one is made for a request without it): " \
         "the same act again under its key answers as the first did, and the same key for " \
         "another act is 422. Send one to repeat a request safely after a 503 or a lost reply."
DONE = {"type": "object", "required": ["success", "message"], "additionalProperties": False,
        "properties": {"success": {"const": True}, "message": {"type": "string"}}}

@dataclass
class Operation:
    """What the routes do not say of themselves: a summary, the replies that are not
    errors (with links to the operations that follow), the errors of the operation's own
    rules, who may call it, and its body and query (the objects its view checks them
    with)."""

    summary: str
    replies: dict
    errors: tuple = ()
    security: list | None = None
    body: Body | None = None
    query: Query | None = None
    view: bool = False  # takes the view parameters (views.query_schema)
    headers: tuple = ()  # (name, description) of optional request headers
    description: str | None = None
    limited: bool = True  # Flask-Limiter, or the read counter, may answer 429
    idempotent: bool = False  # takes an Idempotency-Key (admin.IDEMPOTENCY_KEY)


INVITATIONS = {"type": "object", "required": ["invitations"], "properties": {
    "invitations": {"type": "array", "items": ref("Invitation")}}}
INVITATION_LINKS = {
    "revoke": {"operationId": "api.revoke_group_invitation",
               "parameters": {"group_id": "$response.body#/groupId",
                              "user_id": "$response.body#/userId"}}}


def _moderation(summary: str, body: Body, reply: dict) -> Operation:
    return Operation(summary, {"200": json_content({
        "type": "object", "required": ["userId", *reply], "additionalProperties": False,
        "properties": {"userId": {"type": "string"}, **reply}}, "Done")},
        errors=(403, 404), security=TOKEN, body=body, description=ADMIN + REPEAT,
        idempotent=True)


OPERATIONS = {
    "api.list_actions": Operation("The action catalog", {"200": json_content({
        "type": "object", "required": ["actions"],
        "properties": {"actions": {"type": "array", "items": ref("Action")}}},
        "Enabled actions")}),
    "api.start_action": Operation(
        "Start an action: a single-use ticket bound to the token's user",
        {"201": {**json_content(ref("Ticket"), "Ticket issued"), "links": {
            "complete": {"operationId": "api.update_score",
                         "requestBody": {"actionId": "$response.body#/actionId"}}}}},
        errors=(404,), security=TOKEN, body=api.START,
        description="404 for an action type the catalog does not have or has disabled."),
    "api.update_score": Operation(
        "Complete an action; the score rises by its points",
        {"200": json_content(ref("UpdateReply"), "Score updated (or a retry)")},
        errors=(401, 403), security=[{"bearer": []}, {}], body=api.UPDATE,
        description="The token goes in `Authorization: Bearer` or in the body's `authToken` "
                    "(401 with neither). 400 for a ticket that is unknown, expired, too early, "
                    "cooling down or over its daily limit; 403 for another user's ticket or "
                    "`userId`."),
    "api.top_scores": Operation(
        "The top of the board, or of one view",
        {"200": json_content(ref("Board"), "Best first; strong ETag"),
         "304": {"description": "Unchanged since If-None-Match"}},
        errors=(401, 403, 404), security=VIEW_TOKEN,
        query=Query(limit=LIMIT), view=True,
        headers=(("If-None-Match", "an ETag of this view, for a 304 while it holds"),)),
    "api.player_rank": Operation(
        "A player's score and rank on a view", {"200": json_content(ref("Rank"), "Rank")},
        errors=(401, 403), security=VIEW_TOKEN, view=True),
    "api.players_around": Operation(
        "The player and those just above and below",
        {"200": json_content({"allOf": [ref("Rank"), {
            "type": "object", "required": ["around"], "properties": {"around": {
                "type": "array", "items": {"type": "object", "properties": {
                    "userId": {"type": "string"}, "displayName": {"type": "string"},
                    "score": {"type": "integer"}, "rank": {"type": "integer"}}}}}}]},
            "Rank and neighbours")},
        errors=(401, 403), security=VIEW_TOKEN, query=api.AROUND, view=True),
    "api.my_profile": Operation("The token's player",
                                {"200": json_content(ref("Profile"), "Profile")}, security=TOKEN),
    "api.update_my_profile": Operation(
        "Set display name and/or region (null clears the region)",
        {"200": json_content(ref("Profile"), "Updated")}, security=TOKEN, body=api.PROFILE),
    "api.my_groups": Operation(
        "The groups the token's player is in",
        {"200": json_content({"type": "object", "required": ["groups"], "properties": {
            "groups": {"type": "array", "items": ref("GroupEntry")}}}, "Groups")},
        security=TOKEN),
    "api.create_group": Operation(
        "Create a friend group; its creator owns it (and is its first member)",
        {"201": {**json_content(ref("Group"), "Created"), "links": {
            "get": {"operationId": "api.get_group",
                    "parameters": {"group_id": "$response.body#/groupId"}},
            "invite": {"operationId": "api.invite_group_member",
                       "parameters": {"group_id": "$response.body#/groupId"}},
            "invitations": {"operationId": "api.group_invitations",
                            "parameters": {"group_id": "$response.body#/groupId"}},
            "removeMember": {"operationId": "api.remove_group_member",
                             "parameters": {"group_id": "$response.body#/groupId"}},
            "delete": {"operationId": "api.delete_group",
                       "parameters": {"group_id": "$response.body#/groupId"}}}}},
        errors=(409,), security=TOKEN, body=api.NEW_GROUP,
        description="409 with `code` `groups_owned_limit` when the player owns "
                    "GROUP_MAX_OWNED groups."),
    "api.get_group": Operation("A group, for its members only",
                               {"200": json_content(ref("Group"), "The group")},
                               errors=(403,), security=TOKEN),
    "api.delete_group": Operation("Delete a group (owner only)",
                                  {"200": json_content(DONE, "Deleted")},
                                  errors=(403,), security=TOKEN),
    "api.invite_group_member": Operation(
        "Invite a player (owner only): a member once they join",
        {"201": {**json_content(ref("Invitation"), "Invited"), "links": INVITATION_LINKS},
         "200": {**json_content(ref("Invitation"), "Already invited: the pending invitation"),
                 "links": INVITATION_LINKS}},
        errors=(403, 409), security=TOKEN, body=api.MEMBER,
        description="409 with `code` `already_member` for a member, `group_members_limit` "
                    "when the group has GROUP_MAX_MEMBERS members, `group_invitations_limit` "
                    "when it has GROUP_MAX_INVITATIONS pending invitations."),
    "api.join_group": Operation(
        "Accept an invitation: the token's player joins the group",
        {"200": json_content(ref("Group"), "The group, with the player in it (or already was)")},
        errors=(403, 409), security=TOKEN,
        description="403 without an invitation; 409 with `code` `groups_joined_limit` when "
                    "the player is in GROUP_MAX_JOINED groups of others, `group_members_limit` "
                    "when the group is full (the invitation stays)."),
    "api.group_invitations": Operation(
        "The group's pending invitations (owner only)",
        {"200": json_content(INVITATIONS, "Newest first")}, errors=(403,), security=TOKEN),
    "api.revoke_group_invitation": Operation(
        "Take back a pending invitation (owner only)", {"200": json_content(DONE, "Revoked")},
        errors=(403,), security=TOKEN, description="404 when none is pending."),
    "api.my_invitations": Operation(
        "The invitations waiting for the token's player",
        {"200": json_content(INVITATIONS, "Newest first")}, security=TOKEN),
    "api.decline_invitation": Operation(
        "Decline the invitation to a group", {"200": json_content(DONE, "Declined")},
        security=TOKEN, description="404 when none is pending."),
    "api.remove_group_member": Operation(
        "Remove a member (owner), or leave (the member)",
        {"200": json_content({"anyOf": [ref("Group"), {
            "type": "object", "required": ["groupId", "left"], "additionalProperties": False,
            "properties": {"groupId": {"type": "string"}, "left": {"const": True}}}]},
            "The group (owner), or that the member left")},
        errors=(403, 409), security=TOKEN,
        description="409 when the owner would leave (delete the group instead); 404 for "
                    "someone who is not a member."),
    "api.revoke_token": Operation(
        "Revoke the presented token until it expires", {"200": json_content(DONE, "Revoked")},
        errors=(400,), security=TOKEN, description="400 for a token without `jti`."),
    "admin.hide": _moderation(
        "Hide a player from every board, rank and stream at once (the board version moves "
        "and streams get a new frame); the score keeps counting",
        admin.REASON_ONLY, {"hidden": {"const": True}}),
    "admin.unhide": _moderation("Show a hidden player again, with the score they have",
                                admin.REASON_ONLY, {"hidden": {"const": False}}),
    "admin.ban": _moderation(
        "Ban a player: hidden, open tickets void, and every write of theirs but sign-out "
        "answers 403 `Player is banned.`", admin.REASON_ONLY, {"banned": {"const": True}}),
    "admin.unban": _moderation("Lift a ban (the player stays hidden until unhidden)",
                               admin.REASON_ONLY, {"banned": {"const": False}}),
    "admin.adjust": _moderation(
        "Add delta to the all-time score and the current day and week, as if gained now: "
        "400 if it would take the all-time score below 0; a window's score stops at 0",
        admin.ADJUSTMENT, {"score": {"type": "integer"}}),
    "admin.audit": Operation(
        "The audit log, newest first, keyset-paged",
        {"200": json_content({"type": "object", "required": ["events", "next"], "properties": {
            "events": {"type": "array", "items": ref("AuditEvent")},
            "next": {"type": ["integer", "null"],
                     "description": "before= of the next page; null on the last"}}},
            "A page of events")},
        errors=(403,), security=TOKEN, query=admin.AUDIT, description=ADMIN),
    "stream.issue_ticket": Operation(
        "A ticket that opens the view's stream once (EventSource sends no headers)",
        {"201": json_content(ref("StreamTicket"), "Bound to the player, token and view")},
        errors=(403, 404), security=TOKEN, body=stream.TICKET_BODY,
        description="The body holds the view parameters. 403 for a banned player, or a group "
                    "the player is not in; 404 for an unknown group; 503 while Redis is away."),
    "stream.scores_stream": Operation(
        "Server-Sent Events: `event: scoreboard`, `id: <version>`, data as /top",
        {"200": {"description": "An event stream: a `retry:` hint, the view's snapshot "
                                "(unless Last-Event-ID is its version), then every new one",
                 "content": {"text/event-stream": {"schema": {"type": "string"}}}}},
        errors=(401, 403, 404), security=[{}, {"bearer": []}, {"cookie": []}],
        query=stream.STREAM_QUERY, view=True,
        headers=(("Last-Event-ID", "the version the client last saw"),),
        description="A group's view needs a `ticket` (401: unknown, spent or expired, or its "
                    "token since revoked or expired; 403: another view's, or its player since "
                    "banned or out of the group), or the token as `Authorization` or the "
                    "`scoreboard_token` cookie; `token` in the query is a 400. 429 past "
                    "STREAM_MAX_PER_IP open streams; 503 while the server restarts, or for a "
                    "ticket while Redis is away."),
    "openapi.openapi_document": Operation(
        "This document", {"200": json_content({"type": "object"}, "OpenAPI 3.1")}),
    "health.healthz": Operation("Liveness", {"200": json_content({"type": "object"},
                                                          "The process answers")}),
    "health.readyz": Operation("Readiness: the database and any JWKS answered; Redis is reported",
                               {"200": json_content({"type": "object"}, "ok or degraded")},
                               errors=(503,)),
    "health.prometheus_metrics": Operation(
        "The instance's figures, summed over its workers, Prometheus text format "
        "(README: Metrics)", {
        "200": {"description": "Metrics", "content": {"text/plain": {
            "schema": {"type": "string"}}}}}),
    "page.index": Operation("The live board page", {"200": {
        "description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}},
        limited=False),
    "page.embed": Operation(
        "The live board alone, for an iframe of EMBED_ORIGINS", {"200": {
            "description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}},
        limited=False),
}
