"""The refresher (scoreboard/refresher.py) rebuilds changed boards in the background: each at
most about once per BOARD_REFRESH_SECONDS across all workers, and every worker ends on the
newest board. A request that needs a newer board than the one held does not wait for it."""

import time

import gevent
import pytest

from scoreboard import adapters, create_app
from scoreboard.boards import leaderboard, ports
from scoreboard.data.db import db

from ..conftest import base_config
from ..harness.players import play
from ..harness.servers import sample_sum


def until(predicate, what: str, timeout=30.0):
    """wait_for, yielding to the greenlets under test instead of sleeping the thread."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"after {timeout:g} s still waiting for {what}")
        gevent.sleep(0.02)


@pytest.fixture
def two_workers(make_app, database_url, redis_url):
    """Two apps on one database and one Redis prefix, as two workers of a cluster are, each
    holding the global board, their refreshers running."""
    first = make_app("postgres", BOARD_REFRESH_SECONDS=0.2)
    second = create_app(base_config(database_url, redis_url, BOARD_REFRESH_SECONDS=0.2,
                                    REDIS_PREFIX=first.config["REDIS_PREFIX"]))
    play(first, "amy")
    for app in (first, second):
        app.test_client().get("/api/scores/top")
        ports(app).refresher.start()
    yield first, second
    for app in (first, second):
        ports(app).refresher.stop()
    with second.app_context():
        for engine in db.engines.values():
            engine.dispose()
    adapters.of(second).store.client.connection_pool.disconnect()


def test_a_burst_of_changes_is_read_once_per_interval_for_the_whole_cluster(
        two_workers, monkeypatch):
    first, second = two_workers
    reads = []
    read_snapshot = leaderboard.read_snapshot
    monkeypatch.setattr(leaderboard, "read_snapshot",
                        lambda view=leaderboard.ALL: reads.append(view) or read_snapshot(view))
    began = time.monotonic()
    for _ in range(40):  # about 40 changes a second, for a second
        play(first, "bob")
        version = ports(first).local.announced("all")
        ports(second).refresher.changed(["all"], version)  # what its subscription hears
        gevent.sleep(0.025)
    with first.app_context():
        newest = read_snapshot()

    def both_newest():
        return all(ports(app).local.get("all") == newest for app in two_workers)

    until(both_newest, "both workers to hold the newest board")
    seconds = time.monotonic() - began
    # One read per interval for the cluster, and one to finish; far from one per change.
    assert 1 <= len(reads) <= seconds / 0.2 + 2, (len(reads), seconds)
    assert [ports(app).refresher.stats() for app in two_workers] == [
        {"board_refreshes_due": 0}] * 2


def test_a_request_never_serves_a_copy_that_a_notice_has_overtaken(two_workers):
    first, second = two_workers
    play(first, "bob", 3)  # each worker's refresher would bring the board later...
    for app in (first, second):  # ...but the next request of either already shows it
        rows = app.test_client().get("/api/scores/top").json["topScores"]
        assert rows[0]["userId"] == "bob" and rows[0]["score"] == 3, app


def test_a_newer_copy_is_handed_to_the_hub_and_unheld_views_are_left_alone(app, client):
    play(app, "amy")
    client.get("/api/scores/top")  # held; the day's board is not
    newer = []
    ports(app).refresher.listen(newer.append)
    play(app, "bob")
    assert newer == ["all"]
    assert client.get("/api/scores/top").json["topScores"][1]["userId"] == "bob"


def test_metrics_report_the_boards_waiting_for_a_refresh(app, client, monkeypatch):
    def due():
        return sample_sum(client.get("/metrics").text, "scoreboard_board_refreshes_due")

    play(app, "amy")
    client.get("/api/scores/top")  # held: a notice now asks for its next copy
    assert due() == 0
    read_snapshot = leaderboard.read_snapshot

    def database_away(view=leaderboard.ALL):
        raise ConnectionError("the database is away")

    monkeypatch.setattr(leaderboard, "read_snapshot", database_away)
    play(app, "bob")
    assert due() == 1  # the copy is still served, and waits for the next round
    monkeypatch.setattr(leaderboard, "read_snapshot", read_snapshot)
    play(app, "cat")
    assert due() == 0
    assert [e["userId"] for e in client.get("/api/scores/top").json["topScores"]] == [
        "amy", "bob", "cat"]
