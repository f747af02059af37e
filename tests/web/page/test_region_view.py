"""'My region': the board of the player's region from a stream of its own, live, kept by a
reload, and fitting a phone when a link opens it there."""

import re

from playwright.sync_api import expect

from ...harness.players import token_for
from .conftest import DESKTOP, PHONE
from .helpers import (
    LABELS_FIT,
    NO_SIDEWAYS_SCROLL,
    RECORD_STREAMS,
    board_version,
    choose,
    expect_ids,
    expect_open_streams,
    expect_score,
    expect_state,
    expect_version,
    me_line,
    plays,
    radio,
    row,
    stored_token,
    top_ids,
)


def test_my_region_shows_only_the_region_from_its_own_stream(regional, open_page):
    server, _, tokens = regional
    page, problems = open_page(server.url + "/#token=" + tokens["hans"], **DESKTOP,
                               init_scripts=[RECORD_STREAMS])
    expect_state(page, "live")
    expect(me_line(page)).to_have_text("You: Hans Müller — rank 3, score 2")

    expect(radio(page, "My region")).to_be_enabled()
    with page.expect_request("**/api/scores/stream?region=DE"):
        choose(page, "My region")
    expect(radio(page, "My region")).to_be_checked()
    expect_ids(page, ["greta", "hans"])
    expect(page.get_by_role("table", name="Top 10 players in Germany")).to_be_visible()
    expect(me_line(page)).to_have_text("You: Hans Müller — rank 2, score 2")
    expect(row(page, "hans")).to_have_class(re.compile(r"\bmine\b"))
    assert page.url == server.url + "/?view=region"
    expect_open_streams(page, ["?region=DE"])
    expect_version(page, board_version(server, "?region=DE"))
    assert problems == [], problems


def test_the_region_board_follows_its_own_players_live(regional, open_page):
    server, app, tokens = regional
    page, problems = open_page(server.url + "/?view=region#token=" + tokens["hans"])
    expect_state(page, "live")
    expect_ids(page, ["greta", "hans"])

    # A FR player's points (even a newcomer's) stay off this board, a DE player's show up;
    # the player's own line follows, whoever moved.
    plays(server, tokens["amelie"], "amelie")
    plays(server, token_for(app, "claire", "Claire Dubois", region="FR"), "claire", 6)
    plays(server, tokens["hans"], "hans", 2)
    expect_score(page, "hans", 4)
    expect_ids(page, ["hans", "greta"])
    expect(me_line(page)).to_have_text("You: Hans Müller — rank 1, score 4")
    plays(server, tokens["greta"], "greta", 2)
    expect_score(page, "greta", 5)
    expect_ids(page, ["greta", "hans"])
    expect(me_line(page)).to_have_text("You: Hans Müller — rank 2, score 4")

    ids, de_version = top_ids(server, "?region=DE")
    assert ids == ["greta", "hans"]
    expect_version(page, de_version)
    assert top_ids(server)[0][:2] == ["claire", "amelie"]  # they did score, globally
    expect(page.locator('#board-rows tr[data-user-id="claire"], '
                        '#board-rows tr[data-user-id="amelie"]')).to_have_count(0)
    assert problems == [], problems


def test_a_reload_keeps_the_region_view_and_the_player(regional, open_page):
    server, _, tokens = regional
    page, problems = open_page(server.url + "/#token=" + tokens["hans"])
    expect(radio(page, "My region")).to_be_enabled()
    choose(page, "My region")
    expect_ids(page, ["greta", "hans"])

    # The view is in the address, the token in storage: both come back.
    with page.expect_request("**/api/scores/stream?region=DE"):
        page.reload()
    expect(radio(page, "My region")).to_be_checked()
    expect_ids(page, ["greta", "hans"])
    expect(me_line(page)).to_have_text("You: Hans Müller — rank 2, score 2")
    expect_state(page, "live")
    assert page.url == server.url + "/?view=region"
    assert stored_token(page) == tokens["hans"]
    assert problems == [], problems


def test_a_link_opens_the_region_view_on_a_phone_and_it_fits(regional, open_page):
    server, _, tokens = regional
    page, problems = open_page(server.url + "/?view=region#token=" + tokens["hans"], **PHONE)
    expect_state(page, "live")
    expect(radio(page, "My region")).to_be_checked()
    expect_ids(page, ["greta", "hans"])
    expect(me_line(page)).to_have_text("You: Hans Müller — rank 2, score 2")
    assert page.url == server.url + "/?view=region"
    # Nothing wider than the screen, and every view's name fits its button.
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    assert page.eval_on_selector_all("#views label", LABELS_FIT)
    assert problems == [], problems
