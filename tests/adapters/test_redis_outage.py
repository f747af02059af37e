"""Redis dies while scores are being updated, or a cluster's primary does and its replica
takes over: nothing is lost and the board stays right."""

import json
import threading
from collections import Counter

import redis
from sqlalchemy import select

from scoreboard.adapters.slots import shard_tags, view_tag
from scoreboard.core.order import order_by, user_of
from scoreboard.data.db import db
from scoreboard.data.models import User
from scoreboard.identity.auth import issue_token

from ..harness.players import play_http
from ..harness.servers import call
from ..harness.waiting import wait_for

PLAYERS = ("ann", "ben", "cat", "dan")


def board_from_database(app):
    with app.app_context():
        rows = db.session.execute(select(User.id, User.score).order_by(*order_by(User)))
        return [{"userId": r.id, "score": r.score} for r in rows]


def board_from_api(server):
    status, body, _ = call("GET", server.url + "/api/scores/top")
    assert status == 200, body
    return [{"userId": e["userId"], "score": e["score"]} for e in body["topScores"]]


def board_catches_up(server, app):
    """Each worker's board reaches the database's within moments of the last write (the
    refresher's interval; with Redis gone, a copy's maximum age)."""
    truth = board_from_database(app)
    wait_for(lambda: all(board_from_api(server) == truth for _ in range(4)),
             "every worker's board to equal the database's", timeout=30,
             show=lambda: (board_from_api(server), truth))


class Players:
    """Players that play concurrently, each in its own thread, for one phase at a time."""

    def __init__(self, app, server):
        self.server = server
        with app.app_context():
            self.tokens = {p: issue_token(p) for p in PLAYERS}
        self.statuses = []

    def _loop(self, user_id, done):
        token = self.tokens[user_id]
        headers = {"Authorization": f"Bearer {token}"}
        while not done.is_set():
            status, ticket, _ = call("POST", self.server.url + "/api/actions/start",
                                     {"actionType": "click"}, headers)
            self.statuses.append(status)
            if status == 201:
                status, _, _ = call("POST", self.server.url + "/api/scores/update",
                                    {"userId": user_id, "authToken": token,
                                     "actionId": ticket["actionId"]})
                self.statuses.append(status)

    def updates(self) -> int:
        return sum(s == 200 for s in self.statuses)

    def phase(self, during):
        """Play while ``during`` runs, then stop every player."""
        done = threading.Event()
        threads = [threading.Thread(target=self._loop, args=(p, done)) for p in PLAYERS]
        for thread in threads:
            thread.start()
        try:
            during()
        finally:
            done.set()
            for thread in threads:
                thread.join()

    def wait_for_updates(self, more):
        target = self.updates() + more
        wait_for(lambda: self.updates() >= target, f"{more} more accepted updates",
                 timeout=120, interval=0.01,
                 show=lambda: sorted(Counter(self.statuses).items()))


def test_updates_survive_redis_death_and_cache_is_rebuilt(serve, own_redis):
    start, app = serve
    server = start(own_redis.url, WEB_CONCURRENCY="2", REDIS_RETRY_SECONDS="0.2")
    players = Players(app, server)

    def redis_dies():
        players.wait_for_updates(40)
        own_redis.kill()
        players.wait_for_updates(150)

    players.phase(redis_dies)
    board_catches_up(server, app)

    def redis_returns():
        own_redis.start()
        players.wait_for_updates(100)

    players.phase(redis_returns)
    assert set(players.statuses) <= {200, 201}, sorted(set(players.statuses))
    board_catches_up(server, app)
    scores = {e["userId"]: e["score"] for e in board_from_database(app)}
    assert sum(scores.values()) == players.updates()

    # The next reads after Redis returns rebuild its cache from the database.
    with redis.Redis.from_url(own_redis.url) as client:
        key = server.env["REDIS_PREFIX"] + "top:" + view_tag("all") + "all"
        wait_for(lambda: board_from_api(server) and client.exists(key),
                 "the board's cache to be rebuilt in Redis")
        cached = json.loads(client.hget(key, "body"))
    assert [{"userId": e["userId"], "score": e["score"]} for e in cached["entries"]] == \
        board_from_database(app)


def test_a_clusters_primary_killed_loses_nothing_and_the_service_heals(
        serve, own_redis_cluster, open_stream, capsys):
    cluster = own_redis_cluster
    start, app = serve
    # No look at the board but a notice's, once subscribed: streams show notices arrive.
    server = start(cluster.url, WEB_CONCURRENCY="2", REDIS_RETRY_SECONDS="0.2",
                   STREAM_POLL_SECONDS="600", TOP_LOCAL_MAX_AGE_SECONDS="600")
    prefix = server.env["REDIS_PREFIX"]
    players = Players(app, server)
    stream = open_stream(server.url + "/api/scores/stream")
    assert stream.next_snapshot()["version"] == 0
    all_time = prefix + "rank:" + view_tag("all") + "all"
    victim = cluster.client().get_node_from_key(all_time).port  # the global board's primary

    def primary_dies():
        players.wait_for_updates(40)
        cluster.kill(victim)  # kill -9
        cluster.wait_failover(timeout=60)
        players.wait_for_updates(100)

    players.phase(primary_dies)
    assert set(players.statuses) <= {200, 201}, sorted(set(players.statuses))
    board_catches_up(server, app)
    truth = board_from_database(app)
    assert sum(e["score"] for e in truth) == players.updates()  # none lost, none twice

    # Every worker subscribes to every shard again, on the new primary too.
    channels = [prefix + "board" + tag for tag in shard_tags()]
    wait_for(lambda: all(cluster.shard_subscribers(c) == 2 for c in channels),
             "both workers to subscribe to every shard's channel again")
    # The global rank set, which missed writes, is rebuilt from the database on its next use.
    with cluster.client() as client:
        def rebuilt():
            status, _, _ = call("GET", server.url + "/api/scores/users/ann")
            members = [user_of(m.decode()) for m in client.zrange(all_time, 0, -1)]
            return status == 200 and members == [e["userId"] for e in truth]

        wait_for(rebuilt, "the global rank set to be rebuilt as the database has it")
    for place, entry in enumerate(truth, 1):
        status, me, _ = call("GET", server.url + f"/api/scores/users/{entry['userId']}")
        assert (status, me["rank"], me["score"]) == (200, place, entry["score"])
    # And a notice reaches the open stream: one update after the failover.
    score = play_http(server.url, players.tokens["ann"], "ann")
    wait_for(lambda: any(e["userId"] == "ann" and e["score"] == score
                         for e in stream.next_snapshot()["topScores"]),
             "the stream to show the update made after the failover")
    with capsys.disabled():
        print(f"\nfailover: {players.updates()} updates acknowledged, as many in the database; "
              f"replies {sorted(Counter(players.statuses).items())}")
