"""The page runs whole under its Content-Security-Policy: live updates with their gliding
rows, a player's own line, a switch of view and signing out break no rule of it. And the
policy is in force: an inline style is refused."""

from playwright.sync_api import expect

from .helpers import (
    RECORD_VIOLATIONS,
    choose,
    expect_ids,
    expect_state,
    me_line,
    plays,
    violations,
)


def test_nothing_the_page_does_breaks_its_policy(regional, open_page):
    server, _, tokens = regional
    page, problems = open_page(server.url + "/#token=" + tokens["hans"],
                               init_scripts=[RECORD_VIOLATIONS])
    expect_state(page, "live")
    expect(me_line(page)).to_have_text("You: Hans Müller — rank 3, score 2")
    expect_ids(page, ["amelie", "greta", "hans", "pierre"])

    # Pierre climbs from last to first: every row glides (transforms set through the CSSOM).
    plays(server, tokens["pierre"], "pierre", 4)
    expect_ids(page, ["pierre", "amelie", "greta", "hans"])
    expect(me_line(page)).to_have_text("You: Hans Müller — rank 4, score 2")
    choose(page, "My region")
    expect_ids(page, ["greta", "hans"])
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#me")).to_be_hidden()
    expect_ids(page, ["pierre", "amelie", "greta", "hans"])
    assert violations(page) == []
    assert problems == [], problems

    page.evaluate("document.body.setAttribute('style', 'color: red')")
    page.wait_for_function("() => window.__violations.length > 0")
    assert violations(page) == ["style-src-attr inline"]
