"""A dropped database connection costs the request that meets it one retry, instead of a
``SELECT 1`` round trip on every pool checkout (SQLAlchemy's pre-ping).

PostgreSQL restarts, failovers and proxies that cut idle connections all leave dead
connections in the pool. SQLAlchemy recognises the error, invalidates that connection and
every older one, and the retry runs on a new connection. Retrying a whole view is safe here
because every write is idempotent for its caller: completing a ticket twice returns the
stored result, and a second ticket from a repeated start is simply never used. A database
that stays down still answers 503 (errors.py).
"""

import functools
import logging

from sqlalchemy.exc import DBAPIError

from .extensions import db

log = logging.getLogger(__name__)


def init_app(app) -> None:
    """Wrap every view registered so far; call after the blueprints and db.init_app."""
    for endpoint, view in list(app.view_functions.items()):
        app.view_functions[endpoint] = _retrying(view)
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


def _retrying(view):
    @functools.wraps(view)
    def retrying(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
            log.warning("database connection lost, retrying once: %s", error.orig)
            db.session.rollback()
            return view(*args, **kwargs)

    return retrying
