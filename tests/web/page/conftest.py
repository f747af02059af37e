"""The browser, a page of it per test, a real server per test, and the constants the page
tests share. No browser is ever downloaded: without Debian's Chromium these tests skip, or
fail in CI. Screenshots go to test-artifacts/ (git-ignored) for a person to look at."""

import json
import os

import pytest
from playwright.sync_api import expect, sync_playwright

from ...conftest import reset_postgres
from ...harness.days import in_one_day
from ...harness.servers import ROOT
from .helpers import RECORD_STATES, play_regional

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts"
IN_CI = os.environ.get("CI", "").lower() == "true"
# The longest any expectation waits for the page: ample even while another process keeps a
# core busy. Every wait is on a condition, so a passing run never waits this long.
WAIT_MS = 30_000
expect.set_options(timeout=WAIT_MS)
STREAM = "**/api/scores/stream"  # the whole board's stream (a view's has a query string)
TOP = "**/api/scores/top*"
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2,
         "is_mobile": True, "has_touch": True}

# Players for a board that looks lived-in: (user id, display name, daily bonus?, clicks).
CAST = [
    ("ada", "Ada Lovelace", True, 7),
    ("grace", "Grace Hopper", True, 4),
    ("linus", "Linus Torvalds", True, 0),
    ("margaret", "Margaret Hamilton", False, 9),
    ("alan", "Alan Turing", False, 6),
    ("katherine", "Katherine Johnson", False, 5),
    ("zoe", "Zoë Ångström", False, 3),
    ("maxi", "Maximiliana Featherstonehaugh-Cholmondeley", False, 2),
]
# Players with a region, for "My region": (user id, name, region, clicks). On the global
# board: Amélie 4, Greta 3, Hans 2, Pierre 1; on Germany's: Greta 3, Hans 2.
REGIONAL = [
    ("hans", "Hans Müller", "DE", 2),
    ("greta", "Greta Weber", "DE", 3),
    ("amelie", "Amélie Laurent", "FR", 4),
    ("pierre", "Pierre Martin", "FR", 1),
]


@pytest.fixture(scope="package")
def browser():
    """One Chromium for all the page tests. Package-scoped, not session-scoped: Playwright's
    sync API leaves its event loop registered as running in this thread while it is open,
    which would break asyncio.run() in the tests that run after these."""
    if not os.access(CHROMIUM, os.X_OK):
        # As conftest.service_missing: skip on a developer's machine, fail in CI.
        message = (f"Chromium is not installed at {CHROMIUM} (Debian: apt-get install "
                   "chromium); the page tests drive it and never download a browser")
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser):
    """``open_page(url, options=..., init_scripts=..., routes=..., **context_options)``: a
    page in a fresh context (closed at the end), and the list of console errors and uncaught
    exceptions it reports. Every page records its connection states in ``window.__states``."""
    contexts = []

    def open_(url, *, options=None, init_scripts=(), routes=(), **context_options):
        context = browser.new_context(**context_options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        problems = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
        if options:
            page.add_init_script(f"window.SCOREBOARD_OPTIONS = {json.dumps(options)};")
        page.add_init_script(RECORD_STATES)
        for script in init_scripts:
            page.add_init_script(script)
        for pattern, handler in routes:
            page.route(pattern, handler)
        page.goto(url)
        return page, problems

    yield open_
    for context in contexts:
        context.close()


@pytest.fixture
def served(serve, redis_url):
    """(server, app): a real server on a fresh database, and an app signing its tokens."""
    start, app = serve
    return start(redis_url), app


@pytest.fixture
def one_day(serve, redis_url):
    """``one_day(scenario, **env)``: ``scenario(server, app)`` on a real server started with
    ``env``, for a test that reads a day's or a week's board: should a run that crosses
    midnight UTC fail, it is run once more on a new database and server (harness/days.py).
    Returns what the scenario returns."""
    start, app = serve
    servers = []

    def run(scenario, **env):
        def attempt():
            servers.append(start(redis_url, **env))
            return scenario(servers[-1], app)

        def afresh():
            servers[-1].kill()
            reset_postgres(app)

        return in_one_day(attempt, afresh)

    return run


@pytest.fixture
def regional(served):
    """(server, app, tokens by user id) with the REGIONAL players' scores on the board."""
    server, app = served
    return server, app, play_regional(server, app, REGIONAL)
