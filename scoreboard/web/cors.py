"""Cross-origin clients: pages of the origins in ``CORS_ORIGINS`` may call the API, open the
stream and import the client module; any other origin gets no grant, so its browser keeps
the reply from its script.

Flask-CORS makes the grant in an after_request hook, so error replies (401, 404, 429, ...)
carry it too and a game can read why it was refused. It also answers preflights, which
Flask answers without running a view, needing no token, and which are never rate-limited
(gate.py). Only reads of a board held in memory are answered below Flask, where no hook
runs: those that carry an Origin go on to Flask instead (reads.py).

No credentials: a cross-origin page sends its token as ``Authorization: Bearer`` (and opens
a group's stream with a ticket it asked for so: stream.py), never a cookie. Granting
credentials would let every listed origin's scripts act with whatever cookie a player's
browser holds for this service, which nothing here needs.
"""

import re

from flask import request
from flask_cors import CORS

API = "/api/"
# The first-party client, which a listed origin's page may import as a module (a module
# script from another origin runs only with a CORS grant).
CLIENT = "/static/scoreboard-client.js"
# A cache must not hand a reply made for one origin (or for none) to another. Flask-CORS
# adds this only to the replies it grants, but the others vary by Origin just as much, as
# the Fetch standard notes; so every API reply says so while any origin is listed.
VARY = ("Vary", "Origin")
# Beyond the CORS-safelisted headers, what a page may send: its token, a JSON body, a
# request id of its own to trace a call in our logs, the ETag it holds to poll /top, the
# last event a stream client saw (a native EventSource sends that one unasked, but a
# fetch-based client, which can send a token header, sets it itself), and the key that
# makes an admin's act safe to repeat...
ALLOW_HEADERS = ["Authorization", "Content-Type", "X-Request-ID", "If-None-Match",
                 "Last-Event-ID", "Idempotency-Key"]
# ...and what its script may read: the board's ETag, how long to back off after a 429 or
# 503, and the request id to quote in a bug report.
EXPOSE_HEADERS = ["ETag", "Retry-After", "X-Request-ID"]
# A browser reuses a preflight's answer this long (Chromium caps it at two hours), so a
# game's writes do not each cost a second request.
PREFLIGHT_MAX_AGE = 600


def init_app(app) -> None:
    origins = app.config["CORS_ORIGINS"]
    if not origins:
        return  # nothing to grant, and no hook on every request
    CORS(app, resources=[API + ".*", re.escape(CLIENT) + "$"], origins=list(origins),
         allow_headers=ALLOW_HEADERS, expose_headers=EXPOSE_HEADERS,
         max_age=PREFLIGHT_MAX_AGE, supports_credentials=False,
         # A request without Origin is not a cross-origin one: nothing to grant (by default
         # Flask-CORS would name every listed origin in it, which no browser accepts).
         always_send=False, vary_header=False,
         # Every error reply passes through the after_request hook as well (Flask finalizes
         # handled errors): no need to wrap Flask's exception handlers too.
         intercept_exceptions=False)
    app.after_request(_vary_by_origin)


def _vary_by_origin(response):
    if request.path.startswith(API) or request.path == CLIENT:
        response.vary.add(VARY[1])
    return response
