"""The migrations build and tear down the schema on SQLite and PostgreSQL alike."""

import uuid

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from scoreboard import create_app
from scoreboard.data import partitions
from scoreboard.data.db import db
from scoreboard.data.partitions import is_partition

from ..conftest import base_config
from ..harness.databases import create_database, drop_database

TABLES = {"users", "action_types", "action_tickets", "audit_events", "board_state",
          "revoked_tokens", "groups", "group_members", "group_invitations", "window_scores",
          "audit_checkpoints", "checkpoint_scores", "alembic_version"}


@pytest.fixture
def empty_database(backend, tmp_path, request):
    if backend == "embedded":
        yield f"sqlite:///{tmp_path}/migrate.db"
        return
    request.getfixturevalue("database_url")  # fails or skips when PostgreSQL is missing
    name = f"scoreboard_migrate_{uuid.uuid4().hex[:8]}"
    yield create_database(name, durable=False)
    drop_database(name)


def tables(engine) -> set:
    """The tables, partitions of a partitioned table (PostgreSQL) left out."""
    return {name for name in inspect(engine).get_table_names() if not is_partition(name)}


def test_upgrade_downgrade_upgrade(empty_database):
    app = create_app(base_config(empty_database, None))
    with app.app_context():
        upgrade()
        assert tables(db.engine) == TABLES
        downgrade(revision="base")
        assert tables(db.engine) <= {"alembic_version"}
        upgrade()
        assert tables(db.engine) == TABLES
        db.engine.dispose()


def test_models_and_migrations_agree(empty_database):
    """A model change without its migration (or the reverse) fails here."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    app = create_app(base_config(empty_database, None))
    with app.app_context():
        upgrade()
        with db.engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(
                connection, opts={"include_name": partitions.include_name}), db.metadata)
        db.engine.dispose()
    assert diff == []
