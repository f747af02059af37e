"""Screenshots of the page for a person to look at (test-artifacts/, git-ignored): the whole
board and "My region", on a desktop, a phone and in dark mode, each without a console
problem and, on phones, without sideways scrolling."""

from playwright.sync_api import expect

from ...harness.players import token_for
from .conftest import ARTIFACTS, CAST, DESKTOP, PHONE, REGIONAL
from .helpers import (
    LABELS_FIT,
    NO_SIDEWAYS_SCROLL,
    board_version,
    expect_ids,
    expect_settled,
    expect_state,
    expect_version,
    me_line,
    play_cast,
    play_regional,
    plays,
    radio,
)

BOARD_SHOTS = [
    ("live-page.png", DESKTOP),
    ("live-page-mobile.png", PHONE),
    ("live-page-dark.png", {**DESKTOP, "color_scheme": "dark"}),
]
VIEWS_SHOTS = [
    ("live-page-views.png", DESKTOP),
    ("live-page-views-mobile.png", PHONE),
    ("live-page-views-dark.png", {**PHONE, "color_scheme": "dark"}),
]


def shoot(page, name, problems, context_options):
    expect_settled(page)
    if context_options.get("is_mobile"):
        # Nothing wider than the screen: no sideways scrolling on a phone.
        assert page.evaluate(NO_SIDEWAYS_SCROLL), name
        assert page.eval_on_selector_all("#views label", LABELS_FIT), name
    page.screenshot(path=ARTIFACTS / name, full_page=True, animations="disabled")
    assert problems == [], (name, problems)


def test_screenshots(served, open_page):
    server, app = served
    ARTIFACTS.mkdir(exist_ok=True)

    # The whole board, lived-in: more than ten players, names long, odd and accented.
    plays(server, token_for(app, "alice"), "alice")
    plays(server, token_for(app, "bob"), "bob", 2)
    plays(server, token_for(app, "mallory", "<b>Mallory</b> & <img src=x onerror=alert(1)>"),
          "mallory")
    play_cast(server, app, CAST)
    version = board_version(server)
    for name, context_options in BOARD_SHOTS:
        page, problems = open_page(server.url + "/", **context_options)
        expect_state(page, "live")
        expect_version(page, version)
        expect(page.locator("#board-rows tr")).to_have_count(10)
        shoot(page, name, problems, context_options)

    # "My region" for Hans, opened from a link, after some moves: Greta 5, Hans 4 in
    # Germany; the French players' points (Claire's too) are elsewhere.
    tokens = play_regional(server, app, REGIONAL)
    plays(server, tokens["amelie"], "amelie")
    plays(server, token_for(app, "claire", "Claire Dubois", region="FR"), "claire", 6)
    plays(server, tokens["hans"], "hans", 2)
    plays(server, tokens["greta"], "greta", 2)
    de_version = board_version(server, "?region=DE")
    for name, context_options in VIEWS_SHOTS:
        page, problems = open_page(server.url + "/?view=region#token=" + tokens["hans"],
                                   **context_options)
        expect_state(page, "live")
        expect(radio(page, "My region")).to_be_checked()
        expect_ids(page, ["greta", "hans"])
        expect_version(page, de_version)
        expect(me_line(page)).to_have_text("You: Hans Müller — rank 2, score 4")
        assert page.url == server.url + "/?view=region"
        shoot(page, name, problems, context_options)
