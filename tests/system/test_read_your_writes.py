"""Read-your-writes on a real server: once the reply to a write has been sent, every later
read shows it, from any worker. Two gevent workers on PostgreSQL and Redis, a new
connection for every request (as a plain spec client makes them), so consecutive requests
land on either worker."""

import json

import pytest

from ..harness.players import play_http, token_for
from ..harness.servers import call

pytestmark = [pytest.mark.server, pytest.mark.postgres, pytest.mark.redis]

PLAYERS = [f"rw{n}" for n in range(8)]  # all fit on the first page: each write shows there


def top(server) -> dict:
    status, body, _ = call("GET", server.url + "/api/scores/top")
    assert status == 200, body
    return body


def scores(board: dict) -> dict:
    return {row["userId"]: row["score"] for row in board["topScores"]}


def first_frame(server) -> dict:
    """The first board frame of a stream opened now (on a new connection)."""
    from ..harness.streams import EventStream

    with EventStream(server.url + "/api/scores/stream", timeout=30) as stream:
        assert stream.status == 200
        return stream.next_snapshot()


@pytest.fixture
def two_workers(serve, redis_url):
    start, app = serve
    return start(redis_url, WEB_CONCURRENCY="2"), app


def test_every_accepted_update_shows_on_the_next_read(two_workers):
    server, app = two_workers
    tokens = {user_id: token_for(app, user_id) for user_id in PLAYERS}
    stale = []
    for n in range(240):
        user_id = PLAYERS[n % len(PLAYERS)]
        score = play_http(server.url, tokens[user_id], user_id)
        seen = scores(top(server)).get(user_id)
        if seen != score:
            stale.append((n, user_id, score, seen))
        if n % 40 == 0:  # a stream opened after the reply starts from a board that has it
            frame = scores(first_frame(server)).get(user_id)
            if frame is not None and frame < score:
                stale.append((n, user_id, score, f"stream {frame}"))
            elif frame is None:
                stale.append((n, user_id, score, "stream: missing"))
    assert stale == [], f"{len(stale)} stale reads, first: {stale[:5]}"


def test_every_moderation_shows_on_the_next_read(two_workers):
    server, app = two_workers
    tokens = {user_id: token_for(app, user_id) for user_id in PLAYERS[:4]}
    for user_id, token in tokens.items():
        play_http(server.url, token, user_id)
    admin = {"Authorization": f"Bearer {token_for(app, 'mod', role='admin')}"}
    reason = {"reason": "read-your-writes check"}

    def moderate(action, user_id, **body) -> dict:
        status, reply, _ = call("POST", f"{server.url}/api/admin/players/{user_id}/{action}",
                                {**reason, **body}, admin)
        assert status == 200, reply
        return reply

    def shown(user_id):
        return scores(top(server)).get(user_id)

    stale = []
    for n in range(30):
        user_id = PLAYERS[n % 4]
        before = top(server)
        moderate("hide", user_id)
        after = top(server)
        if user_id in scores(after) or after["version"] <= before["version"]:
            stale.append((n, "hide", user_id, json.dumps(after)[:200]))
        moderate("unhide", user_id)
        if shown(user_id) is None:
            stale.append((n, "unhide", user_id))
        score = moderate("adjust", user_id, delta=5)["score"]
        if shown(user_id) != score:
            stale.append((n, "adjust", user_id, score, shown(user_id)))
        moderate("ban", user_id)
        if shown(user_id) is not None:
            stale.append((n, "ban", user_id))
        moderate("unban", user_id)  # a lifted ban leaves the player hidden
        moderate("unhide", user_id)
        if shown(user_id) != score:
            stale.append((n, "unban, unhide", user_id))
    assert stale == [], f"{len(stale)} stale reads, first: {stale[:5]}"
