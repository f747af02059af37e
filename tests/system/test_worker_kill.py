"""A worker killed with SIGKILL while players update concurrently, and gunicorn starts
another: every acknowledged update counts exactly once; an update whose reply was lost,
retried with its actionId, counts once and answers its stored result; the audit log, the
rank sets and the board then agree with the scores."""

import os
import signal
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from http.client import HTTPException

import psycopg2
from sqlalchemy import func, select

from scoreboard import adapters, create_app
from scoreboard.boards import leaderboard
from scoreboard.data.db import db
from scoreboard.data.models import AuditEvent, User

from ..conftest import base_config
from ..harness.players import play_http, token_for
from ..harness.servers import call, socket_holder
from ..harness.waiting import wait_for

PLAYERS = [f"p{n}" for n in range(8)]
HELD = "held"  # the player whose update waits in the worker that is killed
# What a client sees of a worker that died under its request.
LOST = {"ConnectionResetError", "BrokenPipeError", "RemoteDisconnected", "BadStatusLine",
        "IncompleteRead", "URLError"}


def start_action(server, token) -> str:
    status, ticket, _ = call("POST", server.url + "/api/actions/start",
                             {"actionType": "click"}, {"Authorization": f"Bearer {token}"})
    assert status == 201, ticket
    return ticket["actionId"]


def update(server, tokens, user_id, ticket):
    """POST /api/scores/update for the ticket: (status, reply)."""
    return call("POST", server.url + "/api/scores/update",
                {"userId": user_id, "authToken": tokens[user_id], "actionId": ticket})[:2]


def lost_or_answered(request):
    """``request()``'s (status, reply), or the name of the error that ended it."""
    try:
        return request()
    except (OSError, HTTPException) as error:
        return type(error).__name__, None


class Players:
    """Each player in a thread of its own, starting and completing clicks until the block
    ends; every update answered 200 is kept with its score, and every other one's ticket."""

    def __init__(self, server, tokens):
        self.server, self.tokens = server, tokens
        self.answered = {}  # ticket -> (player, updatedScore)
        self.unanswered = []  # (player, ticket)
        self.counts = defaultdict(int)  # player -> updates answered
        self.statuses = defaultdict(int)
        self.done = threading.Event()
        self.threads = [threading.Thread(target=self._play, args=(p,)) for p in PLAYERS]

    def _play(self, user_id):
        while not self.done.is_set():
            started, ticket = lost_or_answered(lambda: (201, start_action(
                self.server, self.tokens[user_id])))
            self.statuses[started] += 1
            if started != 201:
                continue
            status, reply = lost_or_answered(
                lambda: update(self.server, self.tokens, user_id, ticket))
            self.statuses[status] += 1
            if status == 200:
                self.answered[ticket] = (user_id, reply["updatedScore"])
                self.counts[user_id] += 1
            else:
                self.unanswered.append((user_id, ticket))

    def until(self, more: int, what: str) -> None:
        """Wait for ``more`` answered updates, one of each player's among them."""
        target, before = len(self.answered) + more, dict(self.counts)
        wait_for(lambda: len(self.answered) >= target and all(
                     self.counts[p] > before.get(p, 0) for p in PLAYERS),
                 f"{more} more answered updates, of every player, {what}",
                 show=lambda: dict(self.statuses))

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        for thread in self.threads:
            thread.join()


def waiting_on_lock(database_url, ticket):
    """The client port of the session waiting on a lock to complete ``ticket``, else None."""
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT client_port FROM pg_stat_activity WHERE datname = "
                    "current_database() AND wait_event_type = 'Lock' AND position(%s in query) > 0",
                    (ticket,))
        row = cur.fetchone()
    conn.close()
    return row and row[0]


def verify(database_url, redis_url, server):
    """``flask scoreboard verify``'s output, with the server's Redis prefix (its rank sets
    are checked too); fails unless it found nothing wrong."""
    checker = create_app(base_config(database_url, redis_url,
                                     REDIS_PREFIX=server.env["REDIS_PREFIX"]))
    try:
        verified = checker.test_cli_runner().invoke(args=["scoreboard", "verify"])
    finally:
        with checker.app_context():
            db.engine.dispose()
        adapters.of(checker).store.client.connection_pool.disconnect()
    assert verified.exit_code == 0 and "0 mismatches" in verified.output, verified.output


def test_a_killed_worker_loses_no_acknowledged_update_and_counts_none_twice(
        serve, redis_url, database_url):
    start, app = serve
    server = start(redis_url, WEB_CONCURRENCY="2")
    wait_for(lambda: len(server.workers()) == 2, "both workers")
    tokens = {p: token_for(app, p) for p in [*PLAYERS, HELD]}
    scores = defaultdict(list, {HELD: [play_http(server.url, tokens[HELD], HELD)]})
    for query in ("", "?period=day", "?period=week"):  # built now, then kept by each update
        assert call("GET", f"{server.url}/api/scores/users/{HELD}{query}")[0] == 200

    # The held player's update waits on its ticket's row lock, in the worker that is killed.
    held = start_action(server, tokens[HELD])
    blocker = psycopg2.connect(database_url)
    try:
        blocker.cursor().execute("SELECT 1 FROM action_tickets WHERE id = %s FOR UPDATE",
                                 (held,))
        with Players(server, tokens) as players:
            players.until(20, "before the kill")
            held_reply = []
            holder = threading.Thread(target=lambda: held_reply.append(lost_or_answered(
                lambda: update(server, tokens, HELD, held))))
            holder.start()
            port = wait_for(lambda: waiting_on_lock(database_url, held),
                            "the held update to wait")
            killed = socket_holder(server.workers(), port)
            os.kill(killed, signal.SIGKILL)
            holder.join(timeout=30)
            # The dead worker's session goes on now, and may commit, with nobody to answer.
            blocker.rollback()
            wait_for(lambda: len(server.workers() - {killed}) == 2, "a new worker")
            players.until(20, "after the new worker started")
    finally:
        blocker.close()
    print(f"updates answered {len(players.answered)}, unanswered {len(players.unanswered)} "
          f"and the held one; replies: {dict(players.statuses)}")
    assert held_reply and held_reply[0][0] in LOST, held_reply
    assert set(players.statuses) - {200, 201} <= LOST, dict(players.statuses)

    # Each update left without an answer, retried with its actionId: counted now or before.
    for user_id, ticket in [*players.unanswered, (HELD, held)]:
        status, reply = update(server, tokens, user_id, ticket)
        assert status == 200, reply
        scores[user_id].append(reply["updatedScore"])
    # Each answered one, sent again, answers as it did and adds nothing.
    def again(answered):
        ticket, (user_id, _) = answered
        status, reply = update(server, tokens, user_id, ticket)
        assert status == 200, reply
        return ticket, reply["updatedScore"]

    with ThreadPoolExecutor(8) as pool:
        replayed = dict(pool.map(again, players.answered.items()))
    assert replayed == {ticket: score for ticket, (_, score) in players.answered.items()}
    for user_id, score in players.answered.values():
        scores[user_id].append(score)

    # Each player's updates answered 1, 2, ... n: none lost, none counted twice.
    assert {p: sorted(s) for p, s in scores.items()} == {
        p: list(range(1, len(s) + 1)) for p, s in scores.items()}
    with app.app_context():
        stored = dict(db.session.execute(select(User.id, User.score)).all())
        accepted = dict(db.session.execute(
            select(AuditEvent.user_id, func.count()).where(AuditEvent.outcome == "accepted")
            .group_by(AuditEvent.user_id)).all())
        twice = db.session.execute(
            select(AuditEvent.ticket_id).where(AuditEvent.outcome == "accepted")
            .group_by(AuditEvent.ticket_id).having(func.count() > 1)).all()
    assert stored == accepted == {p: len(s) for p, s in scores.items()}
    assert twice == []

    # The dead worker's session commits the held update once its lock is let go (PostgreSQL
    # does not notice the lost client while a statement waits), so that worker never
    # announced it: the retry's replay must (scoring._announce_again), or the rank sets stay
    # behind the database.
    verify(database_url, redis_url, server)

    def board_from_api():
        status, body, _ = call("GET", server.url + "/api/scores/top")
        assert status == 200, body
        return body["topScores"]

    with app.app_context():
        truth = leaderboard.read_snapshot().body()["topScores"]
    wait_for(lambda: all(board_from_api() == truth for _ in range(4)),
             "both workers' boards to equal the database's",
             show=lambda: (board_from_api(), truth))
