"""A dropped database connection costs the request that meets it one retry, instead of a
``SELECT 1`` round trip on every pool checkout (SQLAlchemy's pre-ping).

PostgreSQL restarts, failovers and proxies that cut idle connections all leave dead
connections in the pool. SQLAlchemy recognises the error, invalidates that connection and
every older one, and the retry runs on a new connection. A database that stays down still
answers 503 (errors.py).

What a retry runs again:

- The step after a commit that every announced write takes, the board version
  (leaderboard.next_version), retries alone (``once_more``): a connection cut there does
  not run the committed write again, nor lose its announcement to a second run that finds
  nothing left to change.
- A whole view, for a connection dropped anywhere else: before its commit (nothing was
  written), in the commit itself (the write may have been made) or after it (an admin's
  act reading the player back for the rank sets). Completing a ticket again returns the
  stored result; a second ticket from a repeated start is simply never used; a profile or
  a membership is set to what it already is; an admin's act finds its own idempotency key
  in the audit log (moderation.py) and is answered and announced again, not applied again.
"""

import functools
import logging

import flask
from sqlalchemy.exc import DBAPIError

from .db import db

log = logging.getLogger(__name__)


class Blueprint(flask.Blueprint):
    """Flask's Blueprint, whose every view meets a dropped connection with one retry."""

    def add_url_rule(self, rule, endpoint=None, view_func=None, **options):
        if view_func is not None:
            view_func = _retrying(view_func)
        super().add_url_rule(rule, endpoint, view_func, **options)


def init_app(app) -> None:
    """Call after db.init_app."""
    # Runs before Flask-SQLAlchemy's own teardown (registered earlier, so called later).
    app.teardown_appcontext(_close_session)


def _close_session(exc) -> None:
    """End the request's session. Closing only rolls back what was not committed, so a
    failure here means the connection died meanwhile: drop it, and keep the reply already
    made (a 503, say) instead of a server error page."""
    if not db.session.registry.has():
        return  # the request never used the database
    try:
        db.session.close()
    except DBAPIError as error:
        log.warning("dropping a database connection that could not roll back: %s", error.orig)
        db.session().invalidate()  # the scoped proxy does not pass this one on


def once_more(step, *args, **kwargs):
    """``step(*args, **kwargs)``, run once more (on a new connection) if it meets one that
    was dropped; what the request's session had not committed is rolled back first."""
    try:
        return step(*args, **kwargs)
    except DBAPIError as error:
        if not error.connection_invalidated:
            raise
        log.warning("database connection lost, retrying once: %s", error.orig)
        db.session.rollback()
        return step(*args, **kwargs)


def _retrying(view):
    @functools.wraps(view)
    def retrying(*args, **kwargs):
        return once_more(view, *args, **kwargs)

    return retrying
