"""Board reads and stream opens answered below Flask (scoreboard/board_reads.py): the same
reply as the route's, for the views and cases it takes, and Flask's route for everything
else."""

import re

import pytest
from flask import request
from gevent import socket

from scoreboard.boards import ports
from scoreboard.live import current_hub, sse

from ..harness.players import play, stop_clock

# The same tests on a Redis Cluster too (conftest.py).
pytestmark = pytest.mark.backends("embedded", "postgres", "cluster")

TOP = "/api/scores/top"
STREAM = "/api/scores/stream"


@pytest.fixture
def through_flask_of():
    """``through_flask_of(app)``: the list of requests that reach ``app``'s routing."""
    def watch(app):
        seen = []

        @app.before_request
        def note():
            seen.append(request.full_path.rstrip("?"))

        return seen

    return watch


@pytest.fixture
def through_flask(app, through_flask_of):
    """The requests that reached Flask's routing."""
    return through_flask_of(app)


def headers_of(reply):
    return {k: v for k, v in reply.headers.items() if k != "X-Request-ID"}


def comparable(reply):
    return reply.status_code, headers_of(reply), reply.data


def forget_boards(app):
    ports(app).local.notice()  # as when the subscription drops: nothing is held


@pytest.mark.parametrize("query", ["", "?limit=3", "?region=DE", "?period=all&limit=100"])
def test_a_held_board_gets_the_routes_reply_without_flask(app, client, through_flask, query):
    play(app, "ann")
    loaded = client.get(TOP + query)  # the route loads the board into the worker's memory
    held = client.get(TOP + query)
    assert through_flask == [TOP + query]
    assert held.status_code == 200
    assert comparable(held) == comparable(loaded)

    current = {"If-None-Match": held.headers["ETag"]}
    held_304 = client.get(TOP + query, headers=current)
    forget_boards(app)
    loaded_304 = client.get(TOP + query, headers=current)
    assert through_flask == [TOP + query] * 2
    assert held_304.status_code == 304
    assert comparable(held_304) == comparable(loaded_304)


@pytest.mark.parametrize("query", ["?period=day", "?limit=0", "?limit=%C2%B2", "?region=XX",
                                   "?group=g1", "?region=DE&group=g1", "?sort=score"])
def test_other_reads_go_to_the_route(app, client, through_flask, query):
    stop_clock(app)  # both reads of today's board in one UTC day
    play(app, "ann")
    client.get(TOP)
    first, second = client.get(TOP + query), client.get(TOP + query)
    assert through_flask == [TOP, TOP + query, TOP + query]
    assert comparable(first) == comparable(second)


def test_the_request_id_is_kept_when_sane_and_made_otherwise(app, client):
    client.get(TOP)
    assert client.get(TOP, headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == (
        "abc-123")
    made = client.get(TOP, headers={"X-Request-ID": "no spaces"}).headers["X-Request-ID"]
    assert len(made) == 32 and made != "no spaces"


def test_reads_count_against_the_address_limit_and_the_route_refuses(make_app, backend):
    app = make_app(backend, RATELIMIT_IP="3/minute")
    client = app.test_client()
    assert [client.get(TOP).status_code for _ in range(3)] == [200, 200, 200]
    refused = client.get(TOP)
    assert refused.status_code == 429
    assert refused.json == {"success": False, "error": "Too many requests. Try again later."}
    assert int(refused.headers["Retry-After"]) >= 1


GAME = "http://game.example"
GRANT = ("Access-Control-Allow-Origin", "Access-Control-Expose-Headers")


def test_with_cors_origins_a_same_origin_read_keeps_this_path_and_varies_by_origin(
        make_app, backend, through_flask_of):
    app = make_app(backend, CORS_ORIGINS=(GAME,))
    seen, client = through_flask_of(app), app.test_client()
    play(app, "ann")
    loaded, held = client.get(TOP), client.get(TOP)
    assert seen == [TOP]
    assert held.headers["Vary"] == "Origin"  # a cache must not give it to a cross-origin read
    assert comparable(held) == comparable(loaded)

    current = {"If-None-Match": held.headers["ETag"]}
    held_304 = client.get(TOP, headers=current)
    forget_boards(app)
    assert comparable(held_304) == comparable(client.get(TOP, headers=current))


@pytest.mark.parametrize("origin, grant", [(GAME, True), ("http://elsewhere.example", False)])
def test_a_cross_origin_read_goes_to_flask_for_its_grant(make_app, backend, through_flask_of,
                                                         origin, grant):
    app = make_app(backend, CORS_ORIGINS=(GAME,))
    seen, client = through_flask_of(app), app.test_client()
    play(app, "ann")
    client.get(TOP)
    held = client.get(TOP)
    cross = client.get(TOP, headers={"Origin": origin})
    assert seen == [TOP, TOP]
    assert all((name in cross.headers) == grant for name in GRANT)
    # The grant is all that differs from the reply below Flask.
    status, headers, body = comparable(cross)
    assert (status, {k: v for k, v in headers.items() if k not in GRANT}, body) == (
        comparable(held))


def test_without_cors_origins_a_read_with_an_origin_keeps_this_path(app, client, through_flask):
    play(app, "ann")
    loaded = client.get(TOP)
    held = client.get(TOP, headers={"Origin": GAME})
    assert through_flask == [TOP]
    assert comparable(held) == comparable(loaded) and "Vary" not in held.headers


@pytest.fixture
def streaming(make_app, through_flask_of, monkeypatch):
    """``streaming(**settings)``: (app, the requests reaching its routing, open) for an
    embedded app (its hub's greenlets touch no real socket), where ``open(query)`` opens a
    stream as gunicorn's gevent worker passes it (with its socket, gevent's socket module
    patched) and returns (reply, its first bytes without the jittered retry line). Every
    stream is closed at the end (and make_app stops the hub)."""
    monkeypatch.setattr(sse.monkey, "is_module_patched", lambda name: True)
    opened = []

    def make(**settings):
        app = make_app("embedded", **settings)
        client = app.test_client()

        def open_stream(query=""):
            ours, theirs = socket.socketpair()
            reply = client.get(STREAM + query, buffered=False,
                               environ_overrides={"gunicorn.socket": theirs})
            opened.append((reply, ours, theirs))
            first = next(reply.response) if reply.status_code == 200 else b""
            return reply, re.sub(rb"^retry: \d+\n\n", b"", first)

        return app, through_flask_of(app), open_stream

    yield make
    for reply, *sockets in opened:
        reply.close()
        for sock in sockets:
            sock.close()


@pytest.mark.parametrize("query", ["", "?region=DE", "?period=day", "?period=week&region=DE"])
def test_a_held_streams_open_is_the_routes_without_flask(streaming, query):
    app, through_flask, open_stream = streaming()
    stop_clock(app)  # both opens of a day's or a week's stream in one window
    play(app, "ann")
    loaded, loaded_first = open_stream(query)  # the route loads the hub's channel
    held, held_first = open_stream(query)
    assert through_flask == [STREAM + query]
    assert held.status_code == loaded.status_code == 200
    assert headers_of(held) == headers_of(loaded)
    assert held_first == loaded_first and b"event: scoreboard" in held_first
    hub = current_hub(app)
    assert hub.per_ip["127.0.0.1"] == 2
    held.close()
    assert hub.per_ip["127.0.0.1"] == 1  # closing the body gives its place back


@pytest.mark.parametrize("query", ["?group=g1", "?region=XX", "?period=day&at=2026-13-01"])
def test_other_stream_opens_go_to_the_route(streaming, query):
    app, through_flask, open_stream = streaming()
    play(app, "ann")
    open_stream()
    first, _ = open_stream(query)
    second, _ = open_stream(query)
    assert through_flask == [STREAM, STREAM + query, STREAM + query]
    assert first.status_code == second.status_code != 200
    assert comparable(first) == comparable(second)


def test_a_refused_stream_open_is_answered_by_the_route(streaming):
    app, through_flask, open_stream = streaming(STREAM_MAX_PER_IP=2)
    play(app, "ann")
    assert [open_stream()[0].status_code for _ in range(3)] == [200, 200, 429]
    assert through_flask == [STREAM, STREAM]  # the refusal's reply is the route's
