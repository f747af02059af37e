"""The board's order is the same in every store and in each of its renderings: players who
tie on score and time are ordered by the bytes of their ids in SQLite, in PostgreSQL
whatever the database's own collation, and in the Redis rank sets."""

import random
import uuid
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
from flask_migrate import upgrade
from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    func,
    insert,
    select,
)

from scoreboard import adapters, create_app
from scoreboard.boards import ranks
from scoreboard.boards.views import View
from scoreboard.core import order
from scoreboard.data.db import db
from scoreboard.play.actions import seed_catalog

from ..conftest import base_config
from ..harness.databases import _admin, create_database, drop_database
from ..harness.players import play

# The same tests on a Redis Cluster too (conftest.py).
pytestmark = pytest.mark.backends("embedded", "postgres", "cluster")

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
    adapters.of(app).store.client.close()


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


def test_sql_order_ahead_predicate_and_member_names_agree():
    """order.py's three renderings of the one order, on rows full of ties."""
    rng = random.Random(3)
    players = Table("players", MetaData(), Column("id", String, primary_key=True),
                    Column("score", Integer), Column("score_reached_at", DateTime))
    rows = [{"id": user_id, "score": rng.randint(0, 3),
             "score_reached_at": NOW + timedelta(seconds=rng.randint(0, 2))}
            for user_id in IDS + [f"p{n}" for n in range(40)]]
    engine = create_engine("sqlite://")
    with engine.begin() as connection:
        players.create(connection)
        connection.execute(insert(players), rows)
        in_sql = [r.id for r in connection.execute(
            select(players).order_by(*order.order_by(players.c)))]
        ranks_by_count = {
            row["id"]: 1 + connection.scalar(select(func.count()).select_from(players).where(
                order.ahead_of(players.c, SimpleNamespace(**row))))
            for row in rows}
    engine.dispose()
    by_member = sorted(rows, key=lambda r: order.member(
        r["score"], r["score_reached_at"], r["id"]).encode())
    assert [r["id"] for r in by_member] == in_sql
    assert [ranks_by_count[user_id] for user_id in in_sql] == list(range(1, len(rows) + 1))
    assert all(order.user_of(order.member(r["score"], r["score_reached_at"], r["id"])) == r["id"]
               and order.score_of(order.member(r["score"], NOW, "x")) == r["score"]
               for r in rows)
