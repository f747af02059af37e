"""The README's flows for a game server, as written there, against a real server: with curl
and with Python's standard library; and its curl flow of a group's stream ticket."""

import json
import os
import subprocess
from urllib.error import HTTPError

import pytest

from ..harness.players import token_for
from ..harness.readme import EXAMPLE_SERVICE, snippets
from ..harness.servers import call
from ..harness.waiting import wait_for

SECTION = "Integrate from a game page"


def json_values(text: str) -> list:
    """Each JSON value in ``text``, one after another (curl prints replies back to back)."""
    decoder, values, at = json.JSONDecoder(), [], 0
    while at < len(text.rstrip()):
        value, at = decoder.raw_decode(text, at)
        values.append(value)
        while at < len(text) and text[at].isspace():
            at += 1
    return values


def ids(rows) -> list:
    return [row["userId"] for row in rows]


def test_the_curl_flow_plays_and_reads_the_board(serve, redis_url):
    start, app = serve
    server = start(redis_url)
    (script,) = snippets(SECTION, "sh")
    env = {**os.environ, "SCOREBOARD": server.url, "PLAYER": "ada",
           "TOKEN": token_for(app, "ada", "Ada")}
    ran = subprocess.run(["bash", "-euo", "pipefail", "-c", script], env=env,
                         capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    updated, board = json_values(ran.stdout)
    assert updated == {"success": True, "message": "Score updated successfully.",
                       "updatedScore": 1}
    # The board it read may predate the update by a moment (boards refresh on their own).
    assert board.keys() == {"topScores", "version"}


def test_the_python_flow_plays_and_reads_the_board(serve, redis_url):
    start, app = serve
    server = start(redis_url)
    (code,) = snippets(SECTION, "python")
    flow = {}
    exec(compile(code.replace(EXAMPLE_SERVICE, server.url), "README.md", "exec"), flow)
    ada = token_for(app, "ada", "Ada")

    assert flow["play"]("ada", ada) == 1
    assert flow["play"]("ada", ada) == 2
    top = wait_for(lambda: [row for row in flow["top10"]() if row["score"] == 2],
                   "the board to show the second play", show=flow["top10"])
    assert ids(top) == ["ada"]

    # An error is urllib's HTTPError, whose body is the service's JSON error.
    with pytest.raises(HTTPError) as refused:
        flow["play"]("bob", ada)  # ada's token names ada, not bob
    with refused.value as error:
        assert (error.code, json.load(error)) == (
            403, {"success": False, "error": "Unauthorized score update attempt."})


def test_the_curl_flow_opens_a_groups_stream_with_a_ticket(serve, redis_url):
    start, app = serve
    server = start(redis_url)
    token = token_for(app, "ada", "Ada")
    status, group, _ = call("POST", server.url + "/api/groups", {"name": "Crew"},
                            {"Authorization": f"Bearer {token}"})
    assert status == 201, group
    (script,) = snippets("API", "sh")
    env = {**os.environ, "SCOREBOARD": server.url, "TOKEN": token, "GROUP": group["groupId"]}
    # The stream never ends by itself: read it up to its first board, then stop it.
    with subprocess.Popen(["bash", "-euo", "pipefail", "-c", script], env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as shell:
        try:
            lines = iter(shell.stdout.readline, "")
            assert next(lines).startswith("retry: "), shell.stderr.read()
            assert next(lines) == "\n"
            assert next(lines) == "id: 0\n" and next(lines) == "event: scoreboard\n"
            assert json.loads(next(lines).removeprefix("data: ")) == {
                "topScores": [], "version": 0}
        finally:
            shell.kill()
