"""/embed: the board alone, for another site's iframe. A page of a listed origin shows it,
live, in the view its address names, on its own background; any other origin's page is
refused by the browser."""

import re

import pytest
from playwright.sync_api import expect

from ...harness.origins import second_origin
from .conftest import ARTIFACTS, REGIONAL
from .helpers import RECORD_VIOLATIONS, expect_ids, play_regional, plays, violations

# A game's page that shows the board in an iframe when asked: embed(address).
GAME_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>A game</title>
<link rel="icon" href="data:,"></head>
<body style="background: linear-gradient(135deg, #ffe4c4, #b0e0e6)">
<h1>A game</h1>
<script>
function embed(url) {
  var frame = document.createElement('iframe');
  frame.src = url;
  frame.title = 'Scores';
  frame.width = 480;
  frame.height = 600;
  document.body.append(frame);
}
</script>
</body></html>
"""
TRANSPARENT = ("[document.documentElement, document.body]"
               ".map(e => getComputedStyle(e).backgroundColor)")


@pytest.fixture
def game():
    """The origin of a game's page, /game.html, served apart from the service."""
    with second_origin({"/game.html": GAME_PAGE}) as origin:
        yield origin


def test_a_listed_origin_shows_the_board_live_in_its_view(serve, redis_url, game, open_page):
    start, app = serve
    server = start(redis_url, EMBED_ORIGINS=f"https://elsewhere.example, {game}")
    tokens = play_regional(server, app, REGIONAL)
    page, problems = open_page(game + "/game.html", init_scripts=[RECORD_VIOLATIONS])
    with page.expect_request("**/api/scores/stream?region=DE"):
        page.evaluate("url => embed(url)",
                      server.url + "/embed?view=region#token=" + tokens["hans"])
    board = page.frame_locator("iframe")
    expect(board.locator("#status")).to_have_attribute("data-state", "live")
    expect(board.get_by_role("table", name="Top 10 players in Germany")).to_be_visible()
    frame = page.frame(url=re.compile(r"/embed\?view=region"))
    expect_ids(frame, ["greta", "hans"])
    expect(board.locator('#board-rows tr[data-user-id="hans"]')).to_have_class(
        re.compile(r"\bmine\b"))

    plays(server, tokens["hans"], "hans", 2)
    expect_ids(frame, ["hans", "greta"])
    expect(board.locator('#board-rows tr[data-user-id="hans"]')).to_have_attribute(
        "data-score", "4")

    # Compact: the board alone, on the game's own background.
    expect(board.locator("header, #views, #me")).to_have_count(0)
    assert frame.evaluate(TRANSPARENT) == ["rgba(0, 0, 0, 0)"] * 2
    assert violations(frame) == []
    assert problems == [], problems
    expect(board.locator("#board-rows tr.moving, #board-rows tr.changed")).to_have_count(0)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "embed-in-a-game.png", animations="disabled")


def test_an_origin_not_listed_is_refused(serve, redis_url, game, open_page):
    start, _ = serve
    server = start(redis_url, EMBED_ORIGINS="https://elsewhere.example")
    page, problems = open_page(game + "/game.html")
    # The service answers; the browser reads its policy and shows nothing of the reply.
    with page.expect_console_message(lambda m: "frame-ancestors" in m.text) as refusal, \
            page.expect_response("**/embed") as reply:
        page.evaluate("url => embed(url)", server.url + "/embed")
    assert reply.value.status == 200
    assert reply.value.headers["content-security-policy"].endswith(
        "frame-ancestors https://elsewhere.example")
    # Chromium's words change between versions; what it names does not.
    assert server.url in refusal.value.text
    assert '"frame-ancestors https://elsewhere.example"' in refusal.value.text
    # In place of the board, the browser's own error page.
    frame = page.locator("iframe").element_handle().content_frame()
    frame.wait_for_url(re.compile(r"^chrome-error:"))
    expect(frame.locator("#board-rows")).to_have_count(0)
    assert problems == [refusal.value.text]
