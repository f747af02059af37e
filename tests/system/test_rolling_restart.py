"""A rolling restart of a fleet: two instances (gunicorn masters, each with its workers)
sharing PostgreSQL and Redis (one server, then a Redis Cluster) behind HAProxy with
deploy/haproxy.cfg. While streams are open through the proxy and players' updates flow, one
instance gets SIGTERM and starts again. Its streams end at once (the restart does not wait
for gunicorn's graceful timeout) and reconnect through the proxy, with Last-Event-ID, to the
other instance; every stream ends on the final board, which the API and the database agree
on; every acknowledged update counts exactly once."""

import shutil
import signal
import threading
import time
import uuid
from collections import Counter, defaultdict
from http.client import HTTPException

import pytest
from sqlalchemy import func, select

from scoreboard.boards import leaderboard
from scoreboard.data.db import db
from scoreboard.data.models import AuditEvent, User

from ..conftest import service_missing
from ..harness.fleet import HAProxy
from ..harness.players import play_http, token_for
from ..harness.servers import call, metric
from ..harness.streams import EventStream, Follower
from ..harness.waiting import wait_for

pytestmark = [pytest.mark.server, pytest.mark.postgres, pytest.mark.redis]

PLAYERS = [f"fleet{n}" for n in range(4)]
STREAMS = 8
RETRIED = (502, 503, 504)  # the proxy's answers when no instance answered (or it was cut)
# Far longer than any wait below: a stop that waited for it could not pass unnoticed.
GRACEFUL_TIMEOUT = 120


@pytest.fixture(params=["redis", "cluster"])
def fleet_redis_url(request):
    """The Redis the fleet shares: the test run's one server, then the run's Redis Cluster
    (redis+cluster://...), with the same scenario on each."""
    if request.param == "cluster":
        return request.getfixturevalue("redis_cluster").url
    return request.getfixturevalue("redis_url")


@pytest.fixture
def fleet(serve, fleet_redis_url, tmp_path):
    """Two instances behind HAProxy, all on free ports and stopped at the end whatever
    happens; returns (proxy, instances, app)."""
    if shutil.which("haproxy") is None:
        service_missing("haproxy (Debian's package)", FileNotFoundError("haproxy"))
    start, app = serve
    shared = {
        "REDIS_PREFIX": f"test:{uuid.uuid4().hex[:12]}:",  # one Redis keyspace for the fleet
        "PROXY_HOPS": "1",  # the proxy's X-Forwarded-For names the client
        "WEB_CONCURRENCY": "2",
        "STREAM_HEARTBEAT_SECONDS": "1",  # wakes the followers often enough to stop them
        "GUNICORN_CMD_ARGS": f"--graceful-timeout {GRACEFUL_TIMEOUT}",
    }
    instances = [start(fleet_redis_url, **shared) for _ in range(2)]
    proxy = HAProxy(instances, tmp_path)
    try:
        proxy.start()
        wait_for(lambda: set(proxy.states().values()) == {"UP"}, "HAProxy to see both up",
                 show=proxy.states)
        yield proxy, instances, app
    finally:
        proxy.stop()


def lost_or_answered(request):
    """``request()``'s (status, reply), or the name of the error that ended it."""
    try:
        return request()[:2]
    except (OSError, HTTPException) as error:
        return type(error).__name__, None


class Players:
    """Each player in a thread of its own, starting and completing clicks through the proxy
    until stopped. An update not answered (a connection lost, a 502 or 503 while an instance
    stops) is sent again with the same actionId until it is; what each update answered, its
    status counts, and anything unexpected are kept."""

    def __init__(self, url, tokens):
        self.url, self.tokens = url, tokens
        self.scores = defaultdict(list)  # player -> updatedScore of each acknowledged update
        self.statuses = Counter()
        self.failures = []
        self.done = threading.Event()
        self.threads = [threading.Thread(target=self._play, args=(p,)) for p in PLAYERS]

    def _call(self, path, body, headers=None):
        return lost_or_answered(lambda: call("POST", self.url + path, body, headers))

    def _play(self, user_id):
        token = self.tokens[user_id]
        while not self.done.is_set():
            status, ticket = self._call("/api/actions/start", {"actionType": "click"},
                                        {"Authorization": f"Bearer {token}"})
            self.statuses["start", status] += 1
            if status == 201:
                self._complete(user_id, token, ticket["actionId"])
            elif status not in RETRIED and isinstance(status, int):
                self.failures.append((user_id, "start", status, ticket))
                return

    def _complete(self, user_id, token, action_id):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status, reply = self._call("/api/scores/update", {
                "userId": user_id, "authToken": token, "actionId": action_id})
            self.statuses["update", status] += 1
            if status == 200:
                self.scores[user_id].append(reply["updatedScore"])
                return
            if status not in RETRIED and isinstance(status, int):
                break
        self.failures.append((user_id, "update", status, reply))

    def until(self, more: int, what: str) -> None:
        """Wait for ``more`` acknowledged updates of every player."""
        target = {p: len(self.scores[p]) + more for p in PLAYERS}
        wait_for(lambda: self.failures or all(len(self.scores[p]) >= n
                                              for p, n in target.items()),
                 f"{more} more acknowledged updates of every player {what}",
                 show=lambda: dict(self.statuses))
        assert self.failures == []

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        for thread in self.threads:
            thread.join(timeout=90)


def streams_on(server) -> float:
    return metric(server, "stream_clients")


def split(one, another):
    """(streams on ``one``, on ``another``) once all are open and ``one`` has some."""
    on = streams_on(one), streams_on(another)
    return on if sum(on) == STREAMS and on[0] > 0 else None


def test_a_rolling_restart_loses_no_update_and_every_stream_converges(fleet):
    proxy, (restarted, other), app = fleet
    tokens = {p: token_for(app, p) for p in PLAYERS}
    stream_url = proxy.url + "/api/scores/stream"
    followers = []
    try:
        with Players(proxy.url, tokens) as players:
            players.until(3, "before the streams open")
            followers = [Follower(stream_url) for _ in range(STREAMS)]
            # leastconn spreads the streams over both instances.
            moved, _ = wait_for(lambda: split(restarted, other),
                                "every stream open, some of them on the instance to restart",
                                show=lambda: (streams_on(restarted), streams_on(other)))
            players.until(3, "with the streams open")

            began = time.monotonic()
            restarted.proc.send_signal(signal.SIGTERM)
            wait_for(lambda: restarted.proc.poll() is not None,
                     "the instance given SIGTERM to exit", timeout=GRACEFUL_TIMEOUT / 2)
            stopped_in = time.monotonic() - began
            stopped_log = restarted.log()
            # Its streams came back through the proxy, to the other instance.
            wait_for(lambda: streams_on(other) == STREAMS, "every stream on the other instance",
                     show=lambda: streams_on(other))
            players.until(3, "while one instance is down")

            restarted.start()
            wait_for(lambda: set(proxy.states().values()) == {"UP"},
                     "HAProxy to see the restarted instance up", show=proxy.states)
            players.until(3, "after the restart")
            wait_for(lambda: metric(restarted, "score_updates_total", outcome="accepted"),
                     "the restarted instance to take updates")
        assert players.failures == []

        # The final board: the API's (through the proxy, either instance) is the database's,
        # and every stream ends on it.
        with app.app_context():
            truth = leaderboard.read_snapshot().body()
        status, top, _ = call("GET", proxy.url + "/api/scores/top")
        assert status == 200 and top == truth, (top, truth)
        wait_for(lambda: all(f.board == truth for f in followers),
                 "every stream on the final board", show=lambda: [f.seen[0] for f in followers])
    finally:
        for follower in followers:
            follower.stop()

    ended = [f for f in followers if f.resumed]
    print(f"restart: SIGTERM to exit {stopped_in:.2f} s with {moved:g} of {STREAMS} streams "
          f"open on it; updates acknowledged {sum(map(len, players.scores.values()))}; "
          f"replies {dict(players.statuses)}; streams resumed {len(ended)}, "
          f"connections {[len(f.statuses) for f in followers]}")

    # The stopping workers ended their streams themselves: gunicorn neither timed out nor
    # killed one, and every stream it held reconnected with Last-Event-ID.
    assert "graceful timeout" not in stopped_log, stopped_log
    assert stopped_log.count("Worker exiting") == 2, stopped_log
    assert len(ended) == moved
    assert all(set(f.statuses) == {200} for f in followers), [f.statuses for f in followers]

    # Each player's acknowledged updates answered 1, 2, ... n: none lost, none counted twice;
    # and the database holds exactly those.
    scores = {p: sorted(s) for p, s in players.scores.items()}
    assert scores == {p: list(range(1, len(s) + 1)) for p, s in scores.items()}
    with app.app_context():
        stored = dict(db.session.execute(select(User.id, User.score)).all())
        accepted = dict(db.session.execute(
            select(AuditEvent.user_id, func.count()).where(AuditEvent.outcome == "accepted")
            .group_by(AuditEvent.user_id)).all())
    assert stored == accepted == {p: len(s) for p, s in scores.items()}

    # Last-Event-ID through the proxy: a stream that says it has the current board is not
    # sent it again; its first board is the next one.
    with EventStream(stream_url, {"Last-Event-ID": str(truth["version"])}) as stream:
        assert stream.status == 200
        score = play_http(proxy.url, tokens[PLAYERS[0]], PLAYERS[0])
        first = stream.next_snapshot()
    assert first["version"] > truth["version"], (first, truth)
    assert {row["userId"]: row["score"] for row in first["topScores"]}[PLAYERS[0]] == score
