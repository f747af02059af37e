"""The SSE stream through the real server (gunicorn + gevent)."""

import json
import signal
import socket
import time

import psycopg2
import redis

from scoreboard.auth import issue_token

from .support import EventStream, call, fan_out, metric, play_http, wait_until


def token_for(app, user_id):
    with app.app_context():
        return issue_token(user_id, name=user_id.title())


def test_stream_contract(serve, redis_url):
    start, app = serve
    server = start(redis_url, STREAM_HEARTBEAT_SECONDS="0.3")
    token = token_for(app, "alice")
    play_http(server.url, token, "alice")
    stream = EventStream(server.url + "/api/scores/stream")
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
    stream.close()


def test_last_event_id_equal_to_current_skips_the_snapshot(serve, redis_url):
    start, app = serve
    server = start(redis_url, STREAM_HEARTBEAT_SECONDS="0.3")
    play_http(server.url, token_for(app, "alice"), "alice")
    current = EventStream(server.url + "/api/scores/stream", {"Last-Event-ID": "1"})
    assert "retry" in current.next()
    assert current.next() == {"comment": "heartbeat"}
    stale = EventStream(server.url + "/api/scores/stream", {"Last-Event-ID": "0"})
    stale.next()
    assert stale.next()["id"] == "1"
    current.close(), stale.close()


def test_stream_ends_after_its_lifetime(serve, redis_url):
    start, app = serve
    server = start(redis_url, STREAM_LIFETIME_SECONDS="1", STREAM_HEARTBEAT_SECONDS="0.3")
    stream = EventStream(server.url + "/api/scores/stream")
    began = time.monotonic()
    events = []
    while (event := stream.next()) is not None:
        events.append(event)
    lived = time.monotonic() - began
    stream.close()
    assert 0.7 <= lived < 5, lived  # 80-100 % of the configured second, then the end
    assert events[0].get("retry") and events[1]["event"] == "scoreboard"


def test_per_ip_cap_on_open_streams(serve, redis_url):
    start, app = serve
    server = start(redis_url, STREAM_MAX_PER_IP="2", STREAM_REAP_SECONDS="0.2")
    streams = [EventStream(server.url + "/api/scores/stream") for _ in range(2)]
    assert [s.status for s in streams] == [200, 200]
    status, body, _ = call("GET", server.url + "/api/scores/stream")
    assert status == 429 and body["success"] is False
    streams[0].close()  # noticed by the worker without any write to it
    assert wait_until(lambda: metric(server, "stream_clients") == 1)
    third = EventStream(server.url + "/api/scores/stream")
    assert third.status == 200
    third.close(), streams[1].close()


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


def test_update_through_one_server_reaches_streams_on_another(serve, redis_url):
    start, app = serve
    first = start(redis_url)
    second = start(redis_url, REDIS_PREFIX=first.env["REDIS_PREFIX"])
    stream = EventStream(second.url + "/api/scores/stream")
    assert stream.next_snapshot()["version"] == 0
    play_http(first.url, token_for(app, "alice"), "alice")
    assert stream.next_snapshot()["topScores"][0]["userId"] == "alice"
    stream.close()


def test_streams_survive_a_redis_restart(serve, own_redis):
    start, app = serve
    server = start(own_redis.url, STREAM_HEARTBEAT_SECONDS="0.5", STREAM_POLL_SECONDS="0.5",
                   REDIS_RETRY_SECONDS="0.2")
    token = token_for(app, "alice")
    stream = EventStream(server.url + "/api/scores/stream")
    assert stream.next_snapshot()["version"] == 0
    own_redis.kill()
    play_http(server.url, token, "alice")  # Redis down: the stream learns it by polling
    assert stream.next_snapshot()["topScores"][0]["score"] == 1
    own_redis.start()
    assert wait_until(lambda: metric(server, "stream_broker_subscribed") == 1)
    play_http(server.url, token, "alice")
    assert stream.next_snapshot()["topScores"][0]["score"] == 2
    stream.close()


def test_slow_client_does_not_delay_the_others(serve, redis_url):
    start, app = serve
    server = start(redis_url, STREAM_MIN_INTERVAL_SECONDS="0", STREAM_MAX_PER_IP="100")
    tokens = {f"p{n:02}": token_for(app, f"p{n:02}" + "x" * 50) for n in range(10)}
    # A client that asks for the stream and never reads, with the smallest receive buffer.
    stuck = socket.socket()
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    stuck.connect(("127.0.0.1", server.port))
    stuck.sendall(b"GET /api/scores/stream HTTP/1.1\r\nHost: test\r\n\r\n")
    reader = EventStream(server.url + "/api/scores/stream")
    reader.next_snapshot()
    version = 0
    deadline = time.monotonic() + 60
    while metric(server, "stream_clients_blocked") < 1 and time.monotonic() < deadline:
        for user, token in tokens.items():
            play_http(server.url, token, user + "x" * 50)
            version += 1
            while reader.next_snapshot()["version"] < version:
                pass
    assert metric(server, "stream_clients_blocked") == 1
    # The stuck client holds its socket full; the reader still gets each update at once.
    for user, token in list(tokens.items())[:3]:
        play_http(server.url, token, user + "x" * 50)
        version += 1
        assert reader.next_snapshot()["version"] == version
    stuck.close()
    reader.close()


def test_sigterm_ends_streams_promptly(serve, redis_url):
    start, app = serve
    server = start(redis_url)
    stream = EventStream(server.url + "/api/scores/stream", timeout=30)
    stream.next_snapshot()
    began = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    while stream.next() is not None:
        pass
    server.proc.wait(timeout=30)
    stream.close()
    # gunicorn would otherwise wait its graceful timeout (10 s) for the open stream.
    assert time.monotonic() - began < 5


def test_open_streams_hold_no_database_connection(serve, redis_url, database_url):
    start, app = serve
    server = start(redis_url, DATABASE_URL=database_url + "?application_name=stream-test",
                   STREAM_MAX_PER_IP="100")
    streams = [EventStream(server.url + "/api/scores/stream") for _ in range(30)]
    for stream in streams:
        stream.next_snapshot()
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT state FROM pg_stat_activity WHERE application_name = 'stream-test'")
        states = [state for (state,) in cur.fetchall()]
    conn.close()
    # At most the pool's idle connection or two, none in a transaction, for 30 streams.
    assert len(states) <= 2 and set(states) <= {"idle"}, states
    for stream in streams:
        stream.close()


def test_head_requests_do_not_use_up_the_per_ip_streams(serve, redis_url):
    start, app = serve
    server = start(redis_url, STREAM_MAX_PER_IP="2")
    for _ in range(3):
        status, _, headers = call("HEAD", server.url + "/api/scores/stream")
        assert status == 200 and headers["Content-Type"].startswith("text/event-stream")
    streams = [EventStream(server.url + "/api/scores/stream") for _ in range(2)]
    assert [s.status for s in streams] == [200, 200]
    for stream in streams:
        stream.close()


def test_a_region_stream_gets_its_regions_updates_and_no_others(serve, redis_url):
    start, app = serve
    server = start(redis_url, STREAM_HEARTBEAT_SECONDS="0.5")
    with app.app_context():
        anna, jean = issue_token("anna", region="DE"), issue_token("jean", region="FR")
    stream = EventStream(server.url + "/api/scores/stream?region=DE")
    assert stream.next_snapshot() == {"topScores": [], "version": 0}
    play_http(server.url, jean, "jean")  # France: nothing for this stream
    assert stream.next() == {"comment": "heartbeat"}
    play_http(server.url, anna, "anna")
    board = stream.next_snapshot()
    assert [e["userId"] for e in board["topScores"]] == ["anna"]
    stream.close()


def test_a_group_stream_is_for_members_and_ends_with_the_token(serve, redis_url):
    start, app = serve
    server = start(redis_url, STREAM_HEARTBEAT_SECONDS="0.5")
    with app.app_context():
        owner, outsider = issue_token("owner"), issue_token("outsider")
        short = issue_token("owner", ttl=2)
    _, group, _ = call("POST", server.url + "/api/groups", {"name": "Crew"},
                       {"Authorization": f"Bearer {owner}"})
    url = f"{server.url}/api/scores/stream?group={group['groupId']}"
    assert call("GET", url)[0] == 401
    assert call("GET", f"{url}&token={outsider}")[0] == 403
    stream = EventStream(f"{url}&token={short}")
    assert stream.status == 200 and stream.next_snapshot()["topScores"] == []
    play_http(server.url, owner, "owner")
    assert stream.next_snapshot()["topScores"][0]["userId"] == "owner"
    began = time.monotonic()
    while stream.next() is not None:
        pass
    assert time.monotonic() - began < 5  # ended when the two-second token expired
    stream.close()
