"""Flask-Limiter, created unbound here and bound to an app in create_app: the per-address
limit on every route that the write gate (gate.py) does not count itself."""

from flask import current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

# Per-IP limit on every route, read per request so each app's setting applies.
limiter = Limiter(
    key_func=get_remote_address, default_limits=[lambda: current_app.config["RATELIMIT_IP"]]
)
