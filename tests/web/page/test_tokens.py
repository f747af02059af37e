"""The player's token: taken out of the address bar and kept; forgotten on signing out; and
forgotten, with the page working on without it, when it is no good."""

from playwright.sync_api import expect

from ...harness.players import token_for
from ...harness.servers import call
from .conftest import STREAM
from .helpers import (
    RECORD_STREAMS,
    expect_ids,
    expect_open_streams,
    expect_state,
    me_line,
    plays,
    radio,
    stored_token,
    top_ids,
)

REFUSED_LOG = "Failed to load resource: the server responded with a status of 401 (UNAUTHORIZED)"


def test_a_token_in_the_link_leaves_the_address_bar_and_is_kept(served, open_page):
    server, app = served
    hans = token_for(app, "hans", "Hans Müller", region="DE")
    plays(server, hans, "hans")
    page, problems = open_page(server.url + "/#token=" + hans)
    expect_state(page, "live")
    expect(me_line(page)).to_have_text("You: Hans Müller — rank 1, score 1")
    assert "token" not in page.url and page.url == server.url + "/"
    assert stored_token(page) == hans
    assert problems == [], problems


def test_signing_out_forgets_the_token_and_brings_back_the_global_board(regional, open_page):
    server, _, tokens = regional
    page, problems = open_page(server.url + "/?view=region#token=" + tokens["hans"],
                               init_scripts=[RECORD_STREAMS])
    expect_state(page, "live")
    expect_ids(page, ["greta", "hans"])
    expect(me_line(page)).to_have_text("You: Hans Müller — rank 2, score 2")

    # "My region" goes with the token: back to the global board, where the focus goes too.
    with page.expect_request(STREAM):
        page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#me")).to_be_hidden()
    expect(radio(page, "Global")).to_be_checked()
    expect(radio(page, "Global")).to_be_focused()
    expect(radio(page, "My region")).to_be_disabled()
    global_ids = top_ids(server)[0]
    expect_ids(page, global_ids)
    expect(page.locator("#board-rows tr.mine")).to_have_count(0)
    assert page.url == server.url + "/"
    assert stored_token(page) is None
    expect_open_streams(page, [""])

    page.reload()
    expect_state(page, "live")
    expect_ids(page, global_ids)
    expect(page.locator("#me")).to_be_hidden()
    assert problems == [], problems


def expired(server, app):
    return token_for(app, "hans", "Hans", region="DE", ttl=-3600)


def revoked(server, app):
    token = token_for(app, "hans", "Hans", region="DE")
    status, body, _ = call("POST", server.url + "/api/auth/revoke",
                           headers={"Authorization": f"Bearer {token}"})
    assert status == 200, body
    return token


def test_a_token_that_is_no_good_is_forgotten_and_the_page_works_without(served, open_page):
    server, app = served
    plays(server, token_for(app, "alice"), "alice")
    # Expired by its own claims: not even sent. Revoked: the server refuses it (the browser
    # logs that 401 by itself; the page's script reports nothing). Not a token: not sent.
    for kind, token, allowed in [("expired", expired(server, app), []),
                                 ("revoked", revoked(server, app), [REFUSED_LOG]),
                                 ("not a token", "not-a-token", [])]:
        page, problems = open_page(server.url + "/?view=region#token=" + token)
        expect_state(page, "live")
        expect(radio(page, "Global")).to_be_checked()
        expect(radio(page, "My region")).to_be_disabled()
        expect_ids(page, ["alice"])
        expect(page.locator("#me")).to_be_hidden()
        page.wait_for_function("() => localStorage.getItem('scoreboard.token') === null")
        assert page.url == server.url + "/", kind
        assert problems == allowed, (kind, problems)
