"""No token in any log line: with gunicorn's access log on (ACCESS_LOG, gunicorn.conf.py),
a player's usual session (plays, reads, groups, a stream ticket and its stream, sign-out)
leaves request lines, and none of them, nor any other line of the server's output, holds
the token or anything shaped like a JWT."""

import re

from ..harness.players import play_http, token_for
from ..harness.servers import call
from ..harness.waiting import wait_for

# Three base64url parts whose first is a JSON object's encoding: any JWT, not only ours.
JWT = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


def test_a_players_session_leaves_no_token_in_the_logs(serve, redis_url, open_stream):
    start, app = serve
    server = start(redis_url, ACCESS_LOG="-", STREAM_HEARTBEAT_SECONDS="0.5")
    token, friend = token_for(app, "alice"), token_for(app, "bob")
    bearer = {"Authorization": f"Bearer {token}"}
    play_http(server.url, token, "alice")
    assert call("GET", server.url + "/api/users/me", headers=bearer)[0] == 200
    status, group, _ = call("POST", server.url + "/api/groups", {"name": "Crew"}, bearer)
    assert status == 201, group
    group_id = group["groupId"]
    assert call("POST", f"{server.url}/api/groups/{group_id}/members", {"userId": "bob"},
                bearer)[0] == 201
    assert call("POST", f"{server.url}/api/groups/{group_id}/join",
                headers={"Authorization": f"Bearer {friend}"})[0] == 200
    for query in ("", f"?group={group_id}", "?period=week"):
        assert call("GET", f"{server.url}/api/scores/top{query}", headers=bearer)[0] == 200
    status, issued, _ = call("POST", server.url + "/api/streams/tickets", {"group": group_id},
                             bearer)
    assert status == 201, issued
    stream = open_stream(f"{server.url}/api/scores/stream?group={group_id}"
                         f"&ticket={issued['ticket']}")
    assert stream.next_snapshot()["topScores"][0]["userId"] == "alice"
    stream.close()
    assert call("POST", server.url + "/api/auth/revoke", headers=bearer)[0] == 200

    # The access log was on: every request above has its line, the stream's with its ticket.
    # gunicorn writes a request's line once its reply has ended (after the client may have
    # read it), which for the stream is when the server finds it closed, at its next
    # heartbeat at the latest.
    requests = ("POST /api/actions/start", "POST /api/scores/update", "GET /api/users/me",
                "POST /api/streams/tickets", "POST /api/auth/revoke",
                f"GET /api/scores/stream?group={group_id}&ticket={issued['ticket']}")
    wait_for(lambda: all(request in server.log() for request in requests),
             "a line for every request in the access log",
             show=lambda: [request for request in requests if request not in server.log()])
    log = server.log()
    assert token not in log and friend not in log
    assert JWT.findall(log) == []
