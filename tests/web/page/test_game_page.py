"""The README's game page, as written there, on a second origin listed in CORS_ORIGINS: it
imports the client from the service, plays through it (start, then complete) and watches its
own row climb the live board through subscribe."""

import json

from playwright.sync_api import expect

from ...harness.origins import second_origin
from ...harness.players import token_for
from ...harness.readme import EXAMPLE_SERVICE, snippets
from .helpers import RECORD_STREAMS, expect_open_streams, plays

SECTION = "Integrate from a game page"
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>A game</title><link rel="icon" href="data:,">
</head><body>
{body}</body></html>
"""


def game_files(service_url: str, token: str) -> dict:
    (body,) = snippets(SECTION, "html")
    (script,) = snippets(SECTION, "js")
    return {"/game.html": PAGE.format(body=body),
            "/game.js": script.replace(EXAMPLE_SERVICE, service_url),
            # What the game's own server hands its signed-in player.
            "/session": json.dumps({"token": token})}


def test_a_game_page_plays_through_the_client_and_sees_its_row_climb(serve, redis_url,
                                                                     open_page):
    start, app = serve
    files = {}  # filled in once the service, which must list the game's origin, is up
    with second_origin(files) as origin:
        server = start(redis_url, CORS_ORIGINS=origin)
        plays(server, token_for(app, "bob"), "bob", 2)
        files.update(game_files(server.url, token_for(app, "ada", "Ada Lovelace")))

        page, problems = open_page(origin + "/game.html", init_scripts=[RECORD_STREAMS])
        board = page.locator("#top10 li")
        expect(board).to_have_text(["Bob: 2"])
        expect_open_streams(page, [""])  # live, through the stream

        for score, rows in [(1, ["Bob: 2", "Ada Lovelace: 1"]),
                            (2, ["Bob: 2", "Ada Lovelace: 2"]),  # tied: Bob got there first
                            (3, ["Ada Lovelace: 3", "Bob: 2"])]:
            page.get_by_role("button", name="Play").click()
            expect(page.locator("#score")).to_have_text(str(score))
            expect(board).to_have_text(rows)
        # One stream all along: no reload, no fallback to polling.
        assert page.evaluate("window.__streams.length") == 1
        expect_open_streams(page, [""])
        assert problems == [], problems
