"""The page's HTML is locked down: a Content-Security-Policy with no inline script or style,
framed only by EMBED_ORIGINS; no sniffing, no referrer; HSTS once HTTPS is known; and no
markup that such a policy would block."""

from html.parser import HTMLParser

import pytest

import config
from scoreboard import create_app

PAGES = ["/", "/embed", "/embed?view=week"]
GAME = "https://game.example.com"


@pytest.fixture
def client(make_app):
    return make_app().test_client()


def csp(response) -> dict[str, str]:
    """The policy's directives by name."""
    policy = response.headers["Content-Security-Policy"]
    return dict((part.strip() + " ").split(" ", 1) for part in policy.split(";"))


@pytest.mark.parametrize("path", PAGES)
def test_every_page_is_html_with_the_headers(client, path):
    response = client.get(path)
    assert response.status_code == 200 and response.mimetype == "text/html"
    directives = csp(response)
    assert directives["default-src"].strip() == "'self'"
    assert directives["frame-ancestors"].strip() == "'none'"
    assert "unsafe" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "Strict-Transport-Security" not in response.headers


def test_the_page_routes_are_the_only_html(make_app):
    """So the page's hook, which only its own routes pay for, covers every HTML reply."""
    app = make_app()
    client = app.test_client()
    html = []
    for rule in app.url_map.iter_rules():
        # The stream would hold the client open; it is an event stream anyway.
        if "GET" not in rule.methods or rule.arguments or rule.endpoint == "stream.scores_stream":
            continue
        if client.get(rule.rule).mimetype == "text/html":
            html.append(rule.rule)
    assert client.get("/no-such-page").mimetype == "application/json"
    assert sorted(html) == ["/", "/embed"]


def test_listed_origins_may_frame_the_page(make_app):
    client = make_app(EMBED_ORIGINS=(GAME, "http://localhost:3000")).test_client()
    for path in PAGES:
        ancestors = csp(client.get(path))["frame-ancestors"].split()
        assert ancestors == [GAME, "http://localhost:3000"]


@pytest.mark.parametrize("hops, proto, hsts", [
    (1, "https", True),  # Heroku's router, in front of an HTTPS request
    (1, "http", False),
    (0, "https", False),  # no proxy is trusted: anyone could have sent the header
    (2, "https, http", True),  # a CDN took HTTPS, then spoke HTTP to the platform's router
    (2, "http, https", False),
])
def test_hsts_only_when_the_request_came_over_https(make_app, hops, proto, hsts):
    client = make_app(PROXY_HOPS=hops).test_client()
    response = client.get("/", headers={"X-Forwarded-Proto": proto,
                                        "X-Forwarded-For": "203.0.113.9"})
    assert ("Strict-Transport-Security" in response.headers) is hsts
    if hsts:
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000"


class InlineFinder(HTMLParser):
    """Collects what a policy without 'unsafe-inline' would refuse to run or apply."""

    def __init__(self):
        super().__init__()
        self.found, self.scripts = [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "style" or "style" in attrs:
            self.found.append((tag, "style"))
        self.found += [(tag, name) for name in attrs if name.startswith("on")]
        if tag == "script":
            self.scripts.append(attrs)
            if not attrs.get("src"):
                self.found.append((tag, "inline"))


@pytest.mark.parametrize("path", PAGES)
def test_no_inline_script_style_or_handler_and_modules_only(client, path):
    finder = InlineFinder()
    finder.feed(client.get(path).get_data(as_text=True))
    assert finder.found == []
    assert finder.scripts == [{"type": "module", "src": "/static/js/main.js"}]


def test_embed_origins_are_read_from_the_environment():
    settings = config.from_env({"EMBED_ORIGINS": f" {GAME}, http://localhost:3000 "})
    assert settings["EMBED_ORIGINS"] == (GAME, "http://localhost:3000")
    assert config.from_env({})["EMBED_ORIGINS"] == ()


@pytest.mark.parametrize("value", [
    "game.example.com",  # no scheme
    "https://game.example.com/",  # a path
    "https://game.example.com; script-src *",  # another directive smuggled in
    "'self'",
    "*",
])
def test_a_malformed_embed_origin_stops_the_start(monkeypatch, value):
    monkeypatch.setenv("EMBED_ORIGINS", value)
    with pytest.raises(config.ConfigError, match="EMBED_ORIGINS must list origins"):
        create_app()
