"""The SSE stream through the real server (gunicorn + gevent)."""

import json
import signal
import socket
import time

import psycopg2
import redis

from ..harness.players import play_http, token_for
from ..harness.servers import call, metric
from ..harness.streams import fan_out
from ..harness.waiting import wait_for


def test_stream_contract(serve, any_redis_url, open_stream):
    start, app = serve
    server = start(any_redis_url, STREAM_HEARTBEAT_SECONDS="0.3")
    token = token_for(app, "alice")
    play_http(server.url, token, "alice")
    stream = open_stream(server.url + "/api/scores/stream")
    assert stream.status == 200
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    assert stream.headers["Cache-Control"] == "no-store"
    assert stream.headers["X-Accel-Buffering"] == "no"
    assert "Content-Encoding" not in stream.headers
    assert 3000 <= int(stream.next()["retry"]) <= 4500
    first = stream.next()
    assert first["event"] == "scoreboard" and first["id"] == "1"
    _, top, _ = call("GET", server.url + "/api/scores/top")
    assert json.loads(first["data"]) == top
    assert stream.next() == {"comment": "heartbeat"}
    play_http(server.url, token, "alice")
    assert stream.next_snapshot()["topScores"][0]["score"] == 2


def test_last_event_id_equal_to_current_skips_the_snapshot(serve, redis_url, open_stream):
    start, app = serve
    server = start(redis_url, STREAM_HEARTBEAT_SECONDS="0.3")
    play_http(server.url, token_for(app, "alice"), "alice")
    current = open_stream(server.url + "/api/scores/stream", {"Last-Event-ID": "1"})
    assert "retry" in current.next()
    assert current.next() == {"comment": "heartbeat"}
    stale = open_stream(server.url + "/api/scores/stream", {"Last-Event-ID": "0"})
    stale.next()
    assert stale.next()["id"] == "1"


def test_stream_ends_after_its_lifetime(serve, redis_url, open_stream):
    start, app = serve
    server = start(redis_url, STREAM_LIFETIME_SECONDS="2", STREAM_HEARTBEAT_SECONDS="0.3")
    began = time.monotonic()  # before the server starts counting the stream's lifetime
    with open_stream(server.url + "/api/scores/stream") as stream:
        events = []
        while (event := stream.next()) is not None:
            events.append(event)
    lived = time.monotonic() - began
    # Jittered to 80-100 % of the configured two seconds, then the end; the upper bound only
    # says it did end, with room for a busy machine.
    assert 1.6 <= lived < 30, lived
    assert events[0].get("retry") and events[1]["event"] == "scoreboard"


def test_per_ip_cap_on_open_streams(serve, redis_url, open_stream):
    start, app = serve
    server = start(redis_url, STREAM_MAX_PER_IP="2", STREAM_REAP_SECONDS="0.2")
    streams = [open_stream(server.url + "/api/scores/stream") for _ in range(2)]
    assert [s.status for s in streams] == [200, 200]
    status, body, _ = call("GET", server.url + "/api/scores/stream")
    assert status == 429 and body["success"] is False
    streams[0].close()  # noticed by the worker without any write to it
    wait_for(lambda: metric(server, "stream_clients") == 1, "the closed stream to be reaped",
             show=lambda: metric(server, "stream_clients"))
    third = open_stream(server.url + "/api/scores/stream")
    assert third.status == 200


def test_five_hundred_clients_on_one_worker_with_one_subscription(serve, own_redis):
    start, app = serve
    server = start(own_redis.url, STREAM_MAX_PER_IP="1000", WORKER_CONNECTIONS="2000",
                   RATELIMIT_IP="100000/minute")
    token = token_for(app, "alice")
    play_http(server.url, token, "alice")
    before = redis.Redis.from_url(own_redis.url).client_list()
    during = []

    def update():
        during.append(len(redis.Redis.from_url(own_redis.url).client_list()))
        play_http(server.url, token, "alice")

    received = fan_out(server.port, 500, target_version=2, trigger=update)
    assert received == [True] * 500
    # The worker's Redis connections: its subscription plus a small pool, not one per client.
    assert during[0] - len(before) <= 3, (len(before), during)


def test_update_through_one_server_reaches_streams_on_another(serve, any_redis_url, open_stream):
    start, app = serve
    first = start(any_redis_url)
    second = start(any_redis_url, REDIS_PREFIX=first.env["REDIS_PREFIX"])
    stream = open_stream(second.url + "/api/scores/stream")
    assert stream.next_snapshot()["version"] == 0
    play_http(first.url, token_for(app, "alice"), "alice")
    assert stream.next_snapshot()["topScores"][0]["userId"] == "alice"


def test_streams_survive_a_redis_restart(serve, own_redis, open_stream):
    start, app = serve
    server = start(own_redis.url, STREAM_HEARTBEAT_SECONDS="0.5", STREAM_POLL_SECONDS="0.5",
                   REDIS_RETRY_SECONDS="0.2")
    token = token_for(app, "alice")
    stream = open_stream(server.url + "/api/scores/stream")
    assert stream.next_snapshot()["version"] == 0
    own_redis.kill()
    play_http(server.url, token, "alice")  # Redis down: the stream learns it by polling
    assert stream.next_snapshot()["topScores"][0]["score"] == 1
    own_redis.start()
    wait_for(lambda: metric(server, "stream_broker_subscribed") == 1,
             "the worker to subscribe again after Redis returned")
    play_http(server.url, token, "alice")
    assert stream.next_snapshot()["topScores"][0]["score"] == 2


def test_slow_client_does_not_delay_the_others(serve, redis_url, open_stream):
    start, app = serve
    server = start(redis_url, STREAM_MIN_INTERVAL_SECONDS="0", STREAM_MAX_PER_IP="100")
    # Names as long as allowed, of characters that JSON escapes to 12 bytes each (and that
    # names keep as they are: names.py): every frame is about 9 KB, so the buffers of a
    # client that never reads fill within a few frames.
    wide = "\U0001f642" * 64
    players = [(f"p{n}" + "x" * 60, token_for(app, f"p{n}" + "x" * 60, wide)) for n in range(10)]
    turn = iter(range(10**6))
    version = 0

    def update_and_read():
        """One update, read at once by the reader; then is the stuck client blocked?"""
        nonlocal version
        user, token = players[next(turn) % len(players)]
        play_http(server.url, token, user)
        version += 1
        while reader.next_snapshot()["version"] < version:
            pass
        return metric(server, "stream_clients_blocked") >= 1

    # A client that asks for the stream and never reads, with the smallest receive buffer.
    with socket.socket() as stuck, open_stream(server.url + "/api/scores/stream") as reader:
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        stuck.connect(("127.0.0.1", server.port))
        stuck.sendall(b"GET /api/scores/stream HTTP/1.1\r\nHost: test\r\n\r\n")
        reader.next_snapshot()
        wait_for(update_and_read, "the server to report the client that never reads as blocked",
                 timeout=120, interval=0,
                 show=lambda: {name: metric(server, name) for name in
                               ("stream_clients", "stream_clients_blocked",
                                "stream_broadcasts_total")} | {"updates": version})
        assert metric(server, "stream_clients_blocked") == 1
        # The stuck client holds its socket full; the reader still gets each update at once.
        for user, token in players[:3]:
            play_http(server.url, token, user)
            version += 1
            assert reader.next_snapshot()["version"] == version


def test_sigterm_ends_streams_promptly(serve, redis_url, open_stream):
    start, app = serve
    # A long graceful timeout, so that ending well within it is the hub's doing, not gunicorn's.
    server = start(redis_url, GUNICORN_CMD_ARGS="--graceful-timeout 90")
    with open_stream(server.url + "/api/scores/stream", timeout=120) as stream:
        stream.next_snapshot()
        began = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        while stream.next() is not None:
            pass
        server.proc.wait(timeout=120)
    # gunicorn would otherwise wait its graceful timeout (90 s here) for the open stream.
    assert time.monotonic() - began < 45


def test_open_streams_hold_no_database_connection(serve, redis_url, database_url, open_stream):
    start, app = serve
    server = start(redis_url, DATABASE_URL=database_url + "?application_name=stream-test",
                   STREAM_MAX_PER_IP="100")
    streams = [open_stream(server.url + "/api/scores/stream") for _ in range(30)]
    for stream in streams:
        stream.next_snapshot()
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT state FROM pg_stat_activity WHERE application_name = 'stream-test'")
        states = [state for (state,) in cur.fetchall()]
    conn.close()
    # At most the pool's idle connection or two, none in a transaction, for 30 streams.
    assert len(states) <= 2 and set(states) <= {"idle"}, states


def test_head_requests_do_not_use_up_the_per_ip_streams(serve, redis_url, open_stream):
    start, app = serve
    server = start(redis_url, STREAM_MAX_PER_IP="2")
    for _ in range(3):
        status, _, headers = call("HEAD", server.url + "/api/scores/stream")
        assert status == 200 and headers["Content-Type"].startswith("text/event-stream")
    streams = [open_stream(server.url + "/api/scores/stream") for _ in range(2)]
    assert [s.status for s in streams] == [200, 200]


def test_a_region_stream_gets_its_regions_updates_and_no_others(serve, redis_url, open_stream):
    start, app = serve
    server = start(redis_url, STREAM_HEARTBEAT_SECONDS="0.5")
    anna, jean = token_for(app, "anna", region="DE"), token_for(app, "jean", region="FR")
    stream = open_stream(server.url + "/api/scores/stream?region=DE")
    assert stream.next_snapshot() == {"topScores": [], "version": 0}
    play_http(server.url, jean, "jean")  # France: nothing for this stream
    assert stream.next() == {"comment": "heartbeat"}
    play_http(server.url, anna, "anna")
    board = stream.next_snapshot()
    assert [e["userId"] for e in board["topScores"]] == ["anna"]


def ticket(server, token, **view) -> tuple[int, dict]:
    status, body, _ = call("POST", server.url + "/api/streams/tickets", view,
                           {"Authorization": f"Bearer {token}"})
    return status, body


def test_a_group_stream_is_for_members_with_a_ticket(serve, redis_url, open_stream):
    start, app = serve
    server = start(redis_url, STREAM_HEARTBEAT_SECONDS="0.5")
    owner, outsider = token_for(app, "owner"), token_for(app, "outsider")
    _, group, _ = call("POST", server.url + "/api/groups", {"name": "Crew"},
                       {"Authorization": f"Bearer {owner}"})
    url = f"{server.url}/api/scores/stream?group={group['groupId']}"
    assert call("GET", url)[0] == 401
    assert ticket(server, outsider, group=group["groupId"])[0] == 403
    for in_url in (f"{url}&token={owner}", f"{server.url}/api/scores/stream?token={owner}"):
        assert call("GET", in_url)[0] == 400  # never in a URL, even where none is needed
    status, issued = ticket(server, owner, group=group["groupId"])
    assert status == 201, issued
    with open_stream(f"{url}&ticket={issued['ticket']}") as stream:
        assert stream.status == 200 and stream.next_snapshot()["topScores"] == []
        play_http(server.url, owner, "owner")
        assert stream.next_snapshot()["topScores"][0]["userId"] == "owner"
    assert call("GET", f"{url}&ticket={issued['ticket']}")[0] == 401  # spent


def test_a_group_stream_ends_when_its_token_expires(serve, redis_url, open_stream):
    start, app = serve
    server = start(redis_url, STREAM_HEARTBEAT_SECONDS="0.5")
    owner = token_for(app, "owner")
    _, group, _ = call("POST", server.url + "/api/groups", {"name": "Crew"},
                       {"Authorization": f"Bearer {owner}"})
    # Issued just before it is used, with no other request in between; exp has whole seconds.
    began = time.time()
    short = token_for(app, "owner", ttl=5)
    _, issued = ticket(server, short, group=group["groupId"])
    with open_stream(f"{server.url}/api/scores/stream?group={group['groupId']}"
                     f"&ticket={issued['ticket']}", timeout=60) as stream:
        assert stream.status == 200, "the five-second token expired before the stream opened"
        while stream.next() is not None:
            pass
    lived = time.time() - began
    # Not before the token's expiry (to the second it carries), and then soon: no lifetime
    # setting or heartbeat ends a stream within these bounds.
    assert 4 <= lived < 30, lived
