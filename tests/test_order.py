"""The board's order is the same in every store: players who tie on score and time are
ordered by the bytes of their ids in SQLite, in PostgreSQL whatever the database's own
collation, and in the Redis rank sets."""

import uuid
from datetime import datetime

import pytest
from flask_migrate import upgrade

from scoreboard import create_app, ranks
from scoreboard.actions import seed_catalog
from scoreboard.extensions import db
from scoreboard.views import View

from .conftest import base_config
from .harness.databases import _admin, create_database, drop_database
from .harness.players import play

NOW = datetime(2026, 11, 30, 12)
# Mixed case and punctuation: byte order and a language's order disagree on these.
IDS = ["alice", "Bob", "a.b", "A_b", "zed-1", "Zoe", "b@x", "1up", "_x", ":y", "ALICE", "bob"]


@pytest.fixture(params=["embedded", "postgres", "postgres-icu-en"])
def tied_app(request, make_app, tmp_path):
    """An app whose players all reached score 1 at the same moment."""
    if request.param == "postgres-icu-en":
        # A database whose default collation sorts "alice" before "Bob", as most servers do.
        request.getfixturevalue("database_url")
        name = f"scoreboard_icu_{uuid.uuid4().hex[:8]}"
        url = create_database(name)
        drop_database(name)
        _admin(f"CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu "
               "ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'")
        request.addfinalizer(lambda: drop_database(name))
        app = create_app(base_config(url, request.getfixturevalue("redis_url")))
        with app.app_context():
            upgrade()
            seed_catalog()
        request.addfinalizer(lambda: _dispose(app))
    else:
        app = make_app(request.param)
    for user_id in IDS:
        play(app, user_id, at=NOW)
    return app


def _dispose(app):
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose()
    app.extensions["scoreboard.store"].client.close()


def test_ties_are_broken_by_the_bytes_of_the_ids_everywhere(tied_app):
    in_byte_order = sorted(IDS, key=str.encode)
    top = tied_app.test_client().get("/api/scores/top?limit=100").json["topScores"]
    assert [entry["userId"] for entry in top] == in_byte_order
    with tied_app.app_context():
        for rank, user_id in enumerate(in_byte_order, start=1):
            assert ranks._from_database(View(), user_id) == (1, rank), user_id
            # The first look builds the rank set (Redis), the second answers from it.
            for _ in range(2):
                assert ranks.rank_of(View(), user_id)["rank"] == rank, user_id
