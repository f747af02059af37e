"""The live scoreboard page at ``/``, and the board alone at ``/embed`` for other sites'
iframes: HTML and JavaScript modules, no build step, and the headers that lock them down."""

from flask import current_app, render_template, request

from ..data import reconnect

bp = reconnect.Blueprint("page", __name__)

# A year; no includeSubDomains, since other services may share the operator's domain.
# Sent over HTTPS only: a browser ignores it over plain HTTP (RFC 6797).
HSTS = "max-age=31536000"


@bp.get("/")
def index():
    return render_template("index.html")


@bp.get("/embed")
def embed():
    return render_template("embed.html")


def content_security_policy(embed_origins) -> str:
    """Scripts, styles, images and connections from this origin only, and no inline script
    or style; framed only by ``embed_origins`` (nobody, if none)."""
    ancestors = " ".join(embed_origins) or "'none'"
    return ("default-src 'self'; base-uri 'none'; form-action 'none'; "
            f"frame-ancestors {ancestors}")


@bp.after_request
def lock_down(response):
    """The page's own routes are its only HTML (errors are JSON), so the headers go here
    rather than in a hook that every API request would pay for."""
    headers = response.headers
    headers["Content-Security-Policy"] = content_security_policy(
        current_app.config["EMBED_ORIGINS"])
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"
    if request.is_secure:  # over HTTPS, or behind PROXY_HOPS proxies that say so
        headers["Strict-Transport-Security"] = HSTS
    return response
