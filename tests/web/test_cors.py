"""Cross-origin clients (scoreboard/cors.py): the origins in CORS_ORIGINS get preflight
answers and a grant on every API reply, errors included; any other origin gets none."""

import uuid

import pytest

from ..harness.players import play_http, token_for

GAME = "http://game.example"
OTHER = "http://elsewhere.example"
GRANT_HEADERS = ("Access-Control-Allow-Origin", "Access-Control-Expose-Headers",
                 "Access-Control-Allow-Credentials", "Access-Control-Allow-Headers",
                 "Access-Control-Allow-Methods", "Access-Control-Max-Age")


@pytest.fixture
def cors_app(make_app):
    return make_app(CORS_ORIGINS=(GAME, "https://second.example"))


def limited_client(make_app, backend):
    """A client of an app that allows an address two requests a minute. The client has an
    address of its own: Flask-Limiter keeps the key prefix of the first app it was bound to
    for the whole process, so in Redis its counts would carry over from other tests."""
    client = make_app(backend, CORS_ORIGINS=(GAME,), RATELIMIT_IP="2/minute").test_client()
    client.environ_base["REMOTE_ADDR"] = f"test-{uuid.uuid4().hex}"
    return client


def preflight(client, method, path, origin=GAME, headers="authorization, content-type"):
    return client.options(path, headers={"Origin": origin,
                                         "Access-Control-Request-Method": method,
                                         "Access-Control-Request-Headers": headers})


def granted(reply) -> bool:
    return reply.headers.get("Access-Control-Allow-Origin") == GAME


def no_grant(reply) -> bool:
    return not any(name in reply.headers for name in GRANT_HEADERS)


def varies_by_origin(reply) -> bool:
    return "origin" in reply.vary


@pytest.mark.parametrize("method, path, headers", [
    ("POST", "/api/scores/update", "content-type"),
    ("POST", "/api/actions/start", "authorization, content-type"),
    ("PUT", "/api/users/me", "authorization, content-type, x-request-id"),
    ("DELETE", "/api/groups/g1", "authorization"),
    ("GET", "/api/scores/top", "if-none-match"),
    ("GET", "/api/scores/stream", "authorization, last-event-id"),
])
def test_a_listed_origin_gets_preflight_answers_without_a_token(cors_app, method, path,
                                                                 headers):
    reply = preflight(cors_app.test_client(), method, path, headers=headers)
    assert reply.status_code == 200
    assert granted(reply) and varies_by_origin(reply)
    allowed = {h.strip() for h in reply.headers["Access-Control-Allow-Headers"].split(",")}
    assert allowed == {h.strip() for h in headers.split(",")}
    assert method in reply.headers["Access-Control-Allow-Methods"]
    assert reply.headers["Access-Control-Max-Age"] == "600"
    assert "Access-Control-Allow-Credentials" not in reply.headers  # no cookies cross-origin


def test_a_listed_origin_reads_and_writes_with_a_grant(cors_app):
    client = cors_app.test_client()
    origin = {"Origin": GAME.upper()}  # schemes and hosts are case-insensitive
    for path in ("/api/actions", "/api/scores/top", "/api/openapi.json"):
        reply = client.get(path, headers=origin)
        assert reply.status_code == 200
        assert reply.headers["Access-Control-Allow-Origin"] == GAME.upper()
        assert varies_by_origin(reply)
        exposed = reply.headers["Access-Control-Expose-Headers"]
        assert {"ETag", "Retry-After", "X-Request-ID"} <= {h.strip() for h in exposed.split(",")}
        assert "Access-Control-Allow-Credentials" not in reply.headers

    bearer = {"Authorization": f"Bearer {token_for(cors_app, 'ann')}", **origin}
    started = client.post("/api/actions/start", json={"actionType": "click"}, headers=bearer)
    assert started.status_code == 201 and started.headers["Access-Control-Allow-Origin"]
    done = client.post("/api/scores/update", headers=bearer,
                       json={"userId": "ann", "actionId": started.json["actionId"]})
    assert done.status_code == 200 and done.headers["Access-Control-Allow-Origin"]


def test_other_request_headers_are_not_allowed(cors_app):
    reply = preflight(cors_app.test_client(), "POST", "/api/scores/update",
                      headers="content-type, x-something-else")
    assert reply.headers["Access-Control-Allow-Headers"] == "content-type"


def test_an_unlisted_origin_gets_no_grant(cors_app):
    client = cors_app.test_client()
    for reply in (preflight(client, "POST", "/api/scores/update", origin=OTHER),
                  client.get("/api/actions", headers={"Origin": OTHER}),
                  client.get("/api/users/me", headers={"Origin": OTHER}),
                  client.get("/api/actions", headers={"Origin": "null"}),
                  client.get("/api/actions", headers={"Origin": GAME + ".evil.example"})):
        assert no_grant(reply) and varies_by_origin(reply)


def test_a_reply_without_origin_has_no_grant_and_still_varies_by_origin(cors_app):
    reply = cors_app.test_client().get("/api/actions")
    assert no_grant(reply) and varies_by_origin(reply)


def test_pages_outside_the_api_get_no_grant(cors_app):
    client = cors_app.test_client()
    for path in ("/healthz", "/metrics"):
        reply = client.get(path, headers={"Origin": GAME})
        assert reply.status_code == 200 and no_grant(reply) and not varies_by_origin(reply)


def test_a_listed_origin_may_import_the_client_module_and_only_that_file(cors_app):
    client = cors_app.test_client()
    module = client.get("/static/scoreboard-client.js", headers={"Origin": GAME})
    assert module.status_code == 200 and granted(module) and varies_by_origin(module)
    assert module.mimetype == "text/javascript"
    refused = client.get("/static/scoreboard-client.js", headers={"Origin": OTHER})
    assert no_grant(refused) and varies_by_origin(refused)
    for path in ("/static/js/main.js", "/static/style.css"):
        reply = client.get(path, headers={"Origin": GAME})
        reply.close()  # a static file's reply holds the file open until closed
        assert reply.status_code == 200 and no_grant(reply) and not varies_by_origin(reply)
    module.close()
    refused.close()


def test_without_cors_origins_nobody_gets_a_grant(make_app):
    client = make_app().test_client()
    for reply in (preflight(client, "POST", "/api/scores/update"),
                  client.get("/api/actions", headers={"Origin": GAME})):
        assert no_grant(reply) and not varies_by_origin(reply)


def _too_many_reads(client):
    for _ in range(2):
        client.get("/api/scores/top?period=day")
    return client.get("/api/scores/top?period=day", headers={"Origin": GAME})


def _too_many_actions(client):
    for _ in range(2):
        client.get("/api/actions")
    return client.get("/api/actions", headers={"Origin": GAME})


def _too_many_bad_writes(client):
    for _ in range(2):
        client.post("/api/scores/update", json={})
    return client.post("/api/scores/update", json={}, headers={"Origin": GAME})


ERRORS = {
    "400": lambda client: client.post("/api/scores/update", json={"score": 5},
                                      headers={"Origin": GAME}),
    "401": lambda client: client.get("/api/users/me", headers={"Origin": GAME}),
    "404": lambda client: client.get("/api/nothing-here", headers={"Origin": GAME}),
    "405": lambda client: client.delete("/api/scores/top", headers={"Origin": GAME}),
    "413": lambda client: client.post("/api/scores/update", data="x" * 5000,
                                      content_type="application/json", headers={"Origin": GAME}),
    "415": lambda client: client.post("/api/scores/update", data="x",
                                      headers={"Origin": GAME}),
    "429-read": _too_many_reads,  # counted by the route (gate.count_read)
    "429-limiter": _too_many_actions,  # counted by Flask-Limiter
    "429-refused-writes": _too_many_bad_writes,  # a reply replaced after the view (gate.py)
    # The Flask test client has no gunicorn socket: the stream route refuses.
    "503-stream": lambda client: client.get("/api/scores/stream", headers={"Origin": GAME}),
}


@pytest.mark.parametrize("error", ERRORS)
def test_error_replies_carry_the_grant_so_a_page_can_read_them(make_app, backend, error):
    reply = ERRORS[error](limited_client(make_app, backend))
    assert reply.status_code == int(error[:3])
    assert reply.json["success"] is False and reply.json["error"]
    assert granted(reply) and varies_by_origin(reply)
    if error.startswith("429"):
        assert int(reply.headers["Retry-After"]) >= 1


def test_preflights_are_never_rate_limited_nor_counted(make_app, backend):
    client = limited_client(make_app, backend)
    for _ in range(5):
        for method, path in (("POST", "/api/scores/update"), ("POST", "/api/actions/start"),
                             ("GET", "/api/actions"), ("GET", "/api/scores/top"),
                             ("GET", "/api/users/me")):
            reply = preflight(client, method, path)
            assert reply.status_code == 200 and granted(reply)
    # The address still has its whole allowance, on each kind of counter.
    assert [client.get("/api/actions").status_code for _ in range(3)] == [200, 200, 429]
    assert [client.post("/api/scores/update", json={}).status_code
            for _ in range(3)] == [400, 400, 429]


def test_the_stream_carries_the_grant_on_a_real_server(serve, redis_url, open_stream):
    start, app = serve
    server = start(redis_url, CORS_ORIGINS=GAME)
    play_http(server.url, token_for(app, "ann"), "ann")
    listed = open_stream(server.url + "/api/scores/stream", {"Origin": GAME})
    assert listed.status == 200
    assert listed.headers["Access-Control-Allow-Origin"] == GAME
    assert "Access-Control-Allow-Credentials" not in listed.headers
    assert [row["userId"] for row in listed.next_snapshot()["topScores"]] == ["ann"]
    unlisted = open_stream(server.url + "/api/scores/stream", {"Origin": OTHER})
    assert unlisted.status == 200 and "Access-Control-Allow-Origin" not in unlisted.headers
    assert "Origin" in unlisted.headers["Vary"]
