"""The live scoreboard page at ``/``: static HTML and JavaScript, no build step."""

from flask import Blueprint, render_template

from .extensions import limiter

bp = Blueprint("page", __name__)


@bp.get("/")
@limiter.exempt
def index():
    return render_template("index.html")
