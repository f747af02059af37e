"""What assistive technology gets: a document in a known language that fits the screen, a
table with headers, and one polite live region (the connection status), nothing noisier."""

from playwright.sync_api import expect

from ...harness.players import token_for
from .helpers import expect_score, expect_state, plays


def test_the_document_names_its_language_and_fits_the_device_width(served, open_page):
    server, _ = served
    page, problems = open_page(server.url + "/")
    expect_state(page, "live")
    assert page.locator("html").get_attribute("lang") == "en"
    viewport = page.locator('meta[name="viewport"]').get_attribute("content")
    assert "width=device-width" in viewport
    assert problems == [], problems


def test_the_board_is_a_table_with_column_and_row_headers(served, open_page):
    server, app = served
    page, problems = open_page(server.url + "/")
    expect_state(page, "live")
    table = page.get_by_role("table", name="Top 10 players")
    expect(table).to_be_visible()
    for header in ("Rank", "Player", "Score"):
        expect(table.get_by_role("columnheader", name=header)).to_have_attribute("scope", "col")

    plays(server, token_for(app, "alice", "Alice Example"), "alice")
    expect(table.get_by_role("rowheader", name="Alice Example")).to_have_attribute(
        "scope", "row"
    )
    expect(table.get_by_role("row").filter(has_text="Alice Example")).to_contain_text("1")
    assert problems == [], problems


def test_only_the_connection_status_is_announced_and_politely(served, open_page):
    server, app = served
    page, problems = open_page(server.url + "/")
    expect_state(page, "live")
    status = page.get_by_role("status")
    expect(status).to_have_attribute("aria-live", "polite")
    expect(status).to_have_attribute("id", "status")
    expect(page.locator("[aria-live]")).to_have_count(1)

    # Row updates are not announced at all: the board gets no live region of its own.
    plays(server, token_for(app, "alice"), "alice")
    expect_score(page, "alice", 1)
    expect(page.locator("[aria-live]")).to_have_count(1)
    assert problems == [], problems
