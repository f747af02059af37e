"""The database, the source of truth: its tables (models.py), the rules of completing an
action on both backends (rules.py), Flask-SQLAlchemy and Flask-Migrate (db.py) and the one
retry a dropped connection costs (reconnect.py)."""

import os
import sqlite3

from flask import Flask
from sqlalchemy import event

import config as settings

from . import partitions, reconnect, rules
from .db import AUTOCOMMIT, Autocommit, db, migrate

__all__ = ["configure", "db", "init_app"]


def configure(app: Flask) -> None:
    """The database's settings: SQLite in the instance folder unless one is configured."""
    config = app.config
    config["SQLALCHEMY_DATABASE_URI"] = settings.database_url(config["SQLALCHEMY_DATABASE_URI"])
    if not config["SQLALCHEMY_DATABASE_URI"]:
        os.makedirs(app.instance_path, exist_ok=True)
        path = os.path.join(app.instance_path, "scoreboard.db")
        config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{path}"
    options = config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", _engine_options(config))
    if config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # For one-statement transactions (scoring's function call): they commit as they run,
        # so no COMMIT round trip, and no isolation level to switch back on a pooled
        # connection (which fails, unhandled, on a connection the server has cut).
        config.setdefault("SQLALCHEMY_BINDS", {AUTOCOMMIT: {
            "url": config["SQLALCHEMY_DATABASE_URI"], **_generic_plans(options),
            "isolation_level": "AUTOCOMMIT"}})


def init_app(app: Flask, migrations: str) -> None:
    """Bind the database to ``app``, with Alembic's ``migrations`` folder."""
    db.init_app(app)
    migrate.init_app(app, db, directory=migrations, render_as_batch=True,
                     include_name=partitions.include_name)
    reconnect.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            if engine.dialect.name == "sqlite":
                event.listen(engine, "connect", _sqlite_functions)
        if AUTOCOMMIT in db.engines:
            app.extensions[AUTOCOMMIT] = Autocommit(db.engines[AUTOCOMMIT])


def _sqlite_functions(connection, _record) -> None:
    if isinstance(connection, sqlite3.Connection):
        rules.register_sqlite_functions(connection)


def _engine_options(config) -> dict:
    """Bounded waits, so a stalled database answers 503 instead of holding requests."""
    # No pre-ping: a dead connection costs one retry (reconnect.py), not a round trip each time.
    options = {"pool_timeout": 5}
    if config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # No overflow: a connection opened past the pool is closed again on its return, so
        # under load every request would pay for a new one. Past the pool, requests wait.
        options.update(pool_size=config["DATABASE_POOL_SIZE"], max_overflow=0)
        options["connect_args"] = {
            "connect_timeout": 5,
            "options": f"-c lock_timeout={config['DATABASE_LOCK_TIMEOUT_MS']}"
            f" -c statement_timeout={config['DATABASE_STATEMENT_TIMEOUT_MS']}",
        }
    return options


def _generic_plans(options: dict) -> dict:
    """``options`` for the bind the procedure runs on. PL/pgSQL keeps a plan for each of its
    statements (the driver's own statements go as text, and no plan is kept for them).

    By default it plans a statement afresh on every call for as long as a plan made for the
    call's values looks cheaper than one for any values, and over a partitioned table it
    always does: the made-to-measure plan has already left out the partitions the values
    exclude. So each update planned its four statements on action_tickets anew, about 75 µs
    of the database's CPU an update (docs/PERFORMANCE.md, twelfth round). A generic plan
    leaves those partitions out as it starts instead, with the same rows. It does lock
    every partition of the table as it starts, which costs less than planning: with the
    partitions of 30 days ahead it still saved 50 µs a call."""
    connect = options.get("connect_args", {})  # options configured may have none
    given = connect.get("options")
    generic = "-c plan_cache_mode=force_generic_plan"
    return {**options, "connect_args": {
        **connect, "options": f"{given} {generic}" if given else generic}}
