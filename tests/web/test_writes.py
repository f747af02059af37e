"""The writes of play dispatched without Flask's request hooks (scoreboard/web/writes.py):
each hook the app registers is one the writes need not run, and a write answers as Flask's
own dispatch of the same route does."""

import uuid

import pytest
from flask import request_started

from ..harness.players import token_for

GAME = "http://game.example"

# Every request hook the app registers, and why a write (start, update) may go without it.
# A hook added later fails test_every_hook_is_one_the_writes_may_skip until it is decided
# here, and in writes.py if the writes need it.
SKIPPED = {
    # Flask-Limiter's: its request filter leaves the writes to the gate (gate.py), and its
    # context, which its teardown resets, is made by its before_request hook only.
    ("before_request", None): {"Limiter._check_request_limit"},
    ("after_request", None): {"Limiter.__inject_headers", "_vary_by_origin",
                              "make_after_request_function.<locals>.cors_after_request"},
    # The ban check: start and update read the ban in their own statement.
    ("before_request", "api"): {"refuse_banned_writes"},
}


def _hooks(app, kind: str, scope) -> set[str]:
    functions = getattr(app, f"{kind}_funcs").get(scope, [])
    return {getattr(f, "func", f).__qualname__ for f in functions}


def test_every_hook_is_one_the_writes_may_skip(make_app):
    app = make_app(CORS_ORIGINS=(GAME,))  # CORS registers its hooks only when it grants
    for (kind, scope), skipped in SKIPPED.items():
        hooks = _hooks(app, kind, scope)
        # Flask-Limiter's after_request hook is a partial of a name-mangled method.
        hooks = {name.replace("_Limiter__", "__") for name in hooks}
        assert hooks == skipped, (kind, scope)
    for kind in ("before_request", "after_request"):
        for scope in getattr(app, f"{kind}_funcs"):
            assert (kind, scope) in SKIPPED or scope not in (None, "api"), (kind, scope)


def _refusals(token: str) -> list[tuple[str, dict]]:
    """Requests to the writes that each end in a refusal of a kind of its own."""
    bearer = {"Authorization": f"Bearer {token}"}
    return [
        ("/api/actions/start", {"json": {"actionType": "click"}}),  # no token: 401
        ("/api/actions/start", {"json": {"actionType": "no such"}, "headers": bearer}),
        ("/api/actions/start", {"data": "{", "content_type": "application/json",
                                "headers": bearer}),
        ("/api/scores/update", {"json": {"userId": "alice", "actionId": "x" * 16}}),
        ("/api/scores/update", {"json": {"userId": "alice", "authToken": token,
                                         "actionId": "a" * 16}}),  # no such ticket
        ("/api/scores/update", {"json": ["alice"]}),
        ("/api/scores/update", {"data": "x", "content_type": "text/plain"}),
    ]


@pytest.mark.parametrize("backend", ["embedded", "postgres"])
def test_a_write_answers_as_flasks_own_dispatch(make_app, backend):
    # With an Origin, a write goes through Flask's dispatch and its hooks (CORS grants it);
    # without, through writes.py. Apart from the grant, the replies are the same.
    app = make_app(backend, CORS_ORIGINS=(GAME,))
    token = token_for(app, "alice")
    through_flask, beside_hooks = app.test_client(), app.test_client()
    for client in (through_flask, beside_hooks):
        client.environ_base["REMOTE_ADDR"] = f"test-{uuid.uuid4().hex}"
    for path, request in _refusals(token):
        headers = request.pop("headers", {})
        flask_reply = through_flask.post(path, **request, headers={**headers, "Origin": GAME})
        reply = beside_hooks.post(path, **request, headers=headers)
        assert flask_reply.headers["Access-Control-Allow-Origin"] == GAME
        assert "Access-Control-Allow-Origin" not in reply.headers
        assert (reply.status_code, reply.get_json()) == (flask_reply.status_code,
                                                         flask_reply.get_json()), path
        assert _plain(reply.headers) == _plain(flask_reply.headers), path
    dispatched_by_flask = []
    with request_started.connected_to(lambda sender: dispatched_by_flask.append(1), app):
        started = beside_hooks.post("/api/actions/start", json={"actionType": "click"},
                                    headers={"Authorization": f"Bearer {token}"})
        assert started.status_code == 201 and "origin" in started.vary
        assert not dispatched_by_flask
        through_flask.post("/api/actions/start", json={}, headers={"Origin": GAME})
        assert dispatched_by_flask


def _plain(headers) -> dict:
    """The headers a reply would have without a grant, a request id or a length of its own."""
    return {name: value for name, value in headers.items()
            if not name.startswith("Access-Control-") and name not in ("X-Request-ID",)}
