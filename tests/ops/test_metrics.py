"""/metrics (scoreboard/metrics.py): requests, latencies, update outcomes, pools, Redis and the
streams; in one process through the test client, and summed over two gunicorn workers."""

import os
import signal

from prometheus_client import multiprocess

from scoreboard.data.db import db

from ..harness.players import Player, play_http, token_for
from ..harness.servers import call, metric, sample_sum
from ..harness.waiting import wait_for

TOP = "/api/scores/top"


def figure(client, name: str, **labels) -> float:
    """A figure of this process's /metrics. The test process's figures add up over every app
    it made, so tests compare before and after."""
    return sample_sum(client.get("/metrics").text, "scoreboard_" + name, **labels)


def test_requests_count_by_route_template_method_and_status(make_app):
    app = make_app()
    client = app.test_client()
    requests = {"route": "/api/scores/users/<player:user_id>", "method": "GET", "status": "404"}
    unmatched = {"route": "unmatched", "method": "other", "status": "405"}
    before = [figure(client, "http_requests_total", **requests),
              figure(client, "http_requests_total", **unmatched),
              figure(client, "http_request_duration_seconds_count", route=TOP)]
    assert client.get("/api/scores/users/nobody-at-all").status_code == 404
    assert client.open(TOP, method="BREW").status_code == 405  # no route; an odd method
    assert client.get(TOP).status_code == 200  # through Flask, which loads the board
    after = [figure(client, "http_requests_total", **requests),
             figure(client, "http_requests_total", **unmatched),
             figure(client, "http_request_duration_seconds_count", route=TOP)]
    assert after == [before[0] + 1, before[1] + 1, before[2] + 1]
    assert 'user_id="nobody-at-all"' not in client.get("/metrics").text


def test_reads_answered_below_flask_count_as_the_route(make_app):
    app = make_app()
    client = app.test_client()
    client.get(TOP)  # now this worker holds the board
    app.view_functions["api.top_scores"] = None  # Flask could not answer the next read
    ok = {"route": TOP, "method": "GET", "status": "200"}
    before = figure(client, "http_requests_total", **ok)
    assert client.get(TOP).status_code == 200
    assert client.get(TOP, headers={"If-None-Match": client.get(TOP).headers["ETag"]}
                      ).status_code == 304
    assert figure(client, "http_requests_total", **ok) == before + 2
    assert figure(client, "http_requests_total", route=TOP, status="304") >= 1


def test_update_outcomes_are_counted_once_each(make_app):
    app = make_app()
    client = app.test_client()
    alice = Player("alice", token_for(app, "alice"), client)
    outcomes = ("accepted", "replayed", "unknown", "not_yours", "forbidden", "unauthenticated",
                "invalid", "too_soon")
    before = {o: figure(client, "score_updates_total", outcome=o) for o in outcomes}
    ticket = alice.start().json["actionId"]
    assert alice.complete(ticket).status_code == 200  # accepted
    assert alice.complete(ticket).status_code == 200  # replayed
    assert alice.complete("x" * 20).status_code == 400  # unknown
    bob = Player("bob", token_for(app, "bob"), client)
    assert bob.complete(ticket).status_code == 403  # not_yours
    assert alice.complete(ticket, user_id="bob").status_code == 403  # forbidden
    assert client.post("/api/scores/update", json={"userId": "alice", "actionId": "x" * 20}
                       ).status_code == 401  # unauthenticated
    assert client.post("/api/scores/update", json={"score": 10}).status_code == 400  # invalid
    slow = alice.start("quiz").json["actionId"]  # a quiz takes some seconds
    assert alice.complete(slow).status_code == 400  # too_soon
    after = {o: figure(client, "score_updates_total", outcome=o) for o in outcomes}
    assert {o: after[o] - before[o] for o in outcomes} == dict.fromkeys(outcomes, 1)


def test_connections_in_use_are_counted(make_app):
    app = make_app()
    client = app.test_client()
    before = figure(client, "db_pool_in_use")
    with app.app_context(), db.engine.connect():
        assert figure(client, "db_pool_in_use") == before + 1
    assert figure(client, "db_pool_in_use") == before


def test_redis_up_says_whether_redis_answers(make_app, own_redis):
    app = make_app("postgres", REDIS_URL=own_redis.url)
    client = app.test_client()
    assert figure(client, "redis_up") == 1
    own_redis.kill()
    assert figure(client, "redis_up") == 0
    assert figure(make_app().test_client(), "redis_up") == 0  # the embedded default has none


def test_two_workers_add_up_in_one_metrics(serve, redis_url, open_stream, tmp_path):
    start, app = serve
    directory = tmp_path / "metrics"
    directory.mkdir()
    (directory / "counter_1.db").write_bytes(b"left by an earlier start")  # wiped at start
    server = start(redis_url, WEB_CONCURRENCY="2", PROMETHEUS_MULTIPROC_DIR=str(directory),
                   STREAM_REAP_SECONDS="0.2")
    call("GET", server.url + "/healthz")

    def own(kind, name, **labels):
        """Each worker's own figure, from its own file: {pid: value}."""
        return {int(path.stem.rsplit("_", 1)[1]): sum(
                    s.value for m in multiprocess.MultiProcessCollector.merge([path])
                    for s in m.samples if s.name == name and labels.items() <= s.labels.items())
                for path in directory.glob(f"{kind}_*.db")}

    def own_counts():
        return own("counter", "scoreboard_http_requests_total", route=TOP)

    reads = 0

    def both_workers_have_read():
        nonlocal reads
        assert call("GET", server.url + TOP)[0] == 200
        reads += 1
        counts = own_counts()
        return len(counts) == 2 and all(counts.values())

    # Each request is a new connection, and either worker may take it.
    wait_for(both_workers_have_read, "both workers to answer reads", show=own_counts)
    split = own_counts()
    print(f"{reads} reads of /top, by worker: {split}")
    assert sum(split.values()) == reads
    for _ in range(6):  # each scrape is answered by one worker or the other, with the sum
        assert metric(server, "http_requests_total", route=TOP) == reads
        assert metric(server, "http_request_duration_seconds_count", route=TOP) == reads

    token = token_for(app, "alice")
    for _ in range(3):
        play_http(server.url, token, "alice")
    assert call("POST", server.url + "/api/scores/update",
                {"userId": "alice", "actionId": "x" * 20})[0] == 401
    assert metric(server, "score_updates_total", outcome="accepted") == 3
    assert metric(server, "score_updates_total", outcome="unauthenticated") == 1
    assert metric(server, "score_updates_total") == 4
    wait_for(lambda: metric(server, "board_refreshes_due") == 0, "both workers to catch up")
    wait_for(lambda: metric(server, "db_pool_in_use") == 0, "every connection back in its pool")
    assert metric(server, "redis_up") == 1

    streams = [open_stream(server.url + "/api/scores/stream") for _ in range(4)]
    for stream in streams:
        stream.next_snapshot()
    wait_for(lambda: metric(server, "stream_clients") == 4, "four streams counted",
             show=lambda: metric(server, "stream_clients"))
    wait_for(lambda: metric(server, "stream_broker_subscribed") == 1, "both subscribed")

    # A worker that dies takes its gauges out of the sums, and leaves its counts in them.
    held = own("gauge_livesum", "scoreboard_stream_clients")
    print(f"streams by worker: {held}")
    dead = min(split, key=split.get)
    os.kill(dead, signal.SIGKILL)
    wait_for(lambda: not list(directory.glob(f"gauge_*_{dead}.db")),
             "the master to mark the killed worker dead")
    assert (directory / f"counter_{dead}.db").exists()
    assert metric(server, "http_requests_total", route=TOP) == reads
    assert metric(server, "stream_clients") == 4 - held[dead]
    wait_for(lambda: metric(server, "stream_broker_subscribed") == 1,
             "the new worker to subscribe")


def test_without_a_directory_gunicorn_makes_one_and_removes_it(serve, redis_url, tmp_path):
    start, _ = serve
    temp = tmp_path / "tmp"
    temp.mkdir()
    server = start(redis_url, TMPDIR=str(temp), PROMETHEUS_MULTIPROC_DIR="")
    assert call("GET", server.url + "/healthz")[0] == 200
    assert metric(server, "http_requests_total", route="/metrics") == 0  # not yet counted
    assert metric(server, "http_requests_total", route="/healthz") == 1
    [made] = temp.glob("scoreboard-metrics-*")
    assert list(made.glob("counter_*.db"))
    server.stop()
    assert not made.exists()
