"""Flask extensions, created unbound here and bound to an app in create_app."""

from contextlib import contextmanager

from flask import current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from .token_memory import RememberingJWTManager

# Named constraints keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
# The bind (PostgreSQL only) whose engine runs one-statement transactions: db.engines[...].
AUTOCOMMIT = "autocommit"


def on_postgres() -> bool:
    """PostgreSQL (one round trip per write, the autocommit bind), or the embedded SQLite."""
    return db.engine.dialect.name == "postgresql"


@contextmanager
def reading():
    """Reads whose transaction ends with the block, whatever happens: no pooled connection
    stays idle in a transaction (an open stream holds none). Take what is needed from ORM
    objects inside it: the end of the transaction expires them."""
    try:
        yield db.session
    finally:
        db.session.rollback()
migrate = Migrate()
jwt = RememberingJWTManager()
# Per-IP limit on every route, read per request so each app's setting applies.
limiter = Limiter(
    key_func=get_remote_address, default_limits=[lambda: current_app.config["RATELIMIT_IP"]]
)
