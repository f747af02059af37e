"""A game served from another origin uses the service through the browser's own CORS checks:
it opens the stream, reads /top and, with a preflight, its player's profile, when its origin
is in CORS_ORIGINS, and gets none of them when it is not."""

from urllib.parse import urlencode

import pytest

from ...harness.origins import second_origin
from ...harness.players import token_for
from .helpers import plays, top_ids

# The game's page. It takes the service's address and a token from its own query string, as
# the service starts only once the page's origin is known. The profile's request carries
# Authorization, so the browser sends a preflight before it.
GAME_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>A game elsewhere</title><link rel="icon" href="data:,">
</head><body><script>
const params = new URLSearchParams(location.search);
const api = params.get("api");
window.outcome = {};
const stream = new EventSource(api + "/api/scores/stream");
stream.addEventListener("scoreboard", (event) => {
  window.outcome.stream = JSON.parse(event.data).topScores.map((row) => row.userId);
  stream.close();
});
stream.onerror = () => { window.outcome.stream ??= "error"; stream.close(); };
fetch(api + "/api/scores/top").then((reply) => reply.json()).then(
  (board) => { window.outcome.top = board.topScores.map((row) => row.userId); },
  (error) => { window.outcome.top = error.name; });
fetch(api + "/api/users/me", {headers: {Authorization: "Bearer " + params.get("token")}})
  .then((reply) => reply.json()).then(
  (me) => { window.outcome.me = me.userId; },
  (error) => { window.outcome.me = error.name; });
</script></body></html>
"""
DONE = "['stream', 'top', 'me'].every((name) => name in window.outcome)"


@pytest.mark.parametrize("listed", [True, False], ids=["listed", "unlisted"])
def test_a_game_on_another_origin_streams_and_reads_only_when_its_origin_is_listed(
        serve, redis_url, open_page, listed):
    start, app = serve
    with second_origin({"/game.html": GAME_PAGE}) as origin:
        server = start(redis_url, CORS_ORIGINS=origin if listed else "http://elsewhere.example")
        token = token_for(app, "ada")
        plays(server, token, "ada")
        # Read once from here: the worker then holds the board, and answers reads of it
        # below Flask unless they come from another origin (board_reads.py).
        assert top_ids(server)[0] == ["ada"]
        page, problems = open_page(
            f"{origin}/game.html?{urlencode({'api': server.url, 'token': token})}")
        page.wait_for_function(DONE)
        outcome = page.evaluate("window.outcome")
    if listed:
        assert outcome == {"stream": ["ada"], "top": ["ada"], "me": "ada"}
        assert problems == []
    else:
        # The stream's connection fails, and both fetches reject, as the browser's CORS
        # check refuses each reply: the console says so for every one of them.
        assert outcome == {"stream": "error", "top": "TypeError", "me": "TypeError"}
        assert sum("blocked by CORS policy" in problem for problem in problems) == 3, problems
