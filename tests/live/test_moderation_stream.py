"""Moderation seen by an open stream of a real server (gunicorn + gevent, two workers)."""

from ..harness.players import play_http, token_for
from ..harness.servers import call


def test_a_hidden_player_leaves_an_open_streams_next_frame(serve, any_redis_url, open_stream):
    start, app = serve
    server = start(any_redis_url, workers=2)
    for user_id, times in (("alice", 1), ("bob", 2)):
        token = token_for(app, user_id)
        for _ in range(times):
            play_http(server.url, token, user_id)
    admin = {"Authorization": f"Bearer {token_for(app, 'root', role='admin')}"}
    stream = open_stream(server.url + "/api/scores/stream")
    shown = stream.next_snapshot()
    assert [e["userId"] for e in shown["topScores"]] == ["bob", "alice"]

    status, reply, _ = call("POST", server.url + "/api/admin/players/bob/hide",
                            {"reason": "cheating"}, admin)
    assert (status, reply) == (200, {"userId": "bob", "hidden": True})
    hidden = stream.next_snapshot()
    assert hidden["version"] > shown["version"]
    assert [(e["userId"], e["rank"]) for e in hidden["topScores"]] == [("alice", 1)]

    status, _, _ = call("POST", server.url + "/api/admin/players/bob/unhide",
                        {"reason": "appeal upheld"}, admin)
    assert status == 200
    back = stream.next_snapshot()
    assert back["version"] > hidden["version"]
    assert [e["userId"] for e in back["topScores"]] == ["bob", "alice"]


def test_a_banned_player_still_reads_and_streams_the_public_boards(serve, redis_url,
                                                                   open_stream):
    start, app = serve
    server = start(redis_url)
    token = token_for(app, "bob")
    play_http(server.url, token, "bob")
    play_http(server.url, token_for(app, "alice"), "alice")
    admin = {"Authorization": f"Bearer {token_for(app, 'root', role='admin')}"}
    status, _, _ = call("POST", server.url + "/api/admin/players/bob/ban", {"reason": "bot"},
                        admin)
    assert status == 200
    bob = {"Authorization": f"Bearer {token}"}
    status, reply, _ = call("POST", server.url + "/api/groups", {"name": "Bots"}, bob)
    assert (status, reply) == (403, {"success": False, "error": "Player is banned."})
    for path in ("/api/scores/top", "/api/scores/users/alice", "/api/scores/users/bob/around"):
        status, reply, _ = call("GET", server.url + path, headers=bob)
        assert status == 200, (path, reply)
    stream = open_stream(server.url + "/api/scores/stream", bob)
    assert stream.status == 200
    assert [e["userId"] for e in stream.next_snapshot()["topScores"]] == ["alice"]
