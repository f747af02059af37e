"""Keys ready for sharding by player (docs/SCALING.md): every key of the player's tables
holds the player's id, and every statement of the write path names the player, so that
with the tables distributed by player each runs on that player's shard alone."""

import re

import pytest
from sqlalchemy import text

from scoreboard.data import partitions, rules
from scoreboard.data.db import db
from scoreboard.play import actions

# The tables sharded by player, and the column that holds the player's id.
BY_PLAYER = {"users": "id", "action_tickets": "user_id", "audit_events": "user_id",
             "window_scores": "user_id"}


@pytest.fixture
def schema(make_app):
    app = make_app("postgres")
    with app.app_context():
        yield db.session
        db.session.rollback()


def owner(table: str) -> str | None:
    """The sharded table that ``table`` is, or is a partition of."""
    if table in BY_PLAYER:
        return table
    return next((name for name in partitions.PARTITIONED
                 if partitions.is_partition(table) and table.startswith(name + "_")), None)


def test_every_key_of_the_players_tables_holds_the_players_id(schema):
    keys = schema.execute(text(
        "SELECT c.table_name, c.constraint_name, c.constraint_type,"
        " array_agg(k.column_name::text ORDER BY k.ordinal_position)"
        " FROM information_schema.table_constraints c"
        " JOIN information_schema.key_column_usage k USING (constraint_schema, constraint_name,"
        " table_name) WHERE c.table_schema = current_schema()"
        " AND c.constraint_type IN ('PRIMARY KEY', 'UNIQUE')"
        " GROUP BY 1, 2, 3")).all()
    # A unique index that backs no constraint is a key too, which information_schema omits.
    unique_indexes = schema.execute(text(
        "SELECT t.relname, i.relname, 'UNIQUE INDEX', array_agg(a.attname::text)"
        " FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid"
        " JOIN pg_class t ON t.oid = x.indrelid"
        " JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY(x.indkey)"
        " WHERE x.indisunique AND t.relnamespace = current_schema()::regnamespace"
        " GROUP BY 1, 2")).all()
    checked = [(table, name, kind, columns) for table, name, kind, columns
               in keys + unique_indexes if owner(table)]
    assert {owner(table) for table, *_ in checked} == set(BY_PLAYER)
    assert [key for key in checked if BY_PLAYER[owner(key[0])] not in key[3]] == []


def test_the_growing_tables_are_partitioned_by_time_with_keys_that_lead_with_the_player(
        schema):
    for table, column in partitions.PARTITIONED.items():
        assert schema.execute(text(
            "SELECT pg_get_partkeydef(CAST(:t AS regclass))"), {"t": table}).scalar() == (
            f"RANGE ({column})")
        key = schema.execute(text(
            "SELECT array_agg(k.column_name::text ORDER BY k.ordinal_position)"
            " FROM information_schema.table_constraints c"
            " JOIN information_schema.key_column_usage k USING (constraint_schema,"
            " constraint_name, table_name) WHERE c.table_name = :t"
            " AND c.constraint_type = 'PRIMARY KEY'"), {"t": table}).scalar()
        assert key == ["user_id", column, "id"]


def statements():
    """Every statement the update's write path runs against a player's table: the rules'
    steps (the procedure is their rendering) and the start of an action."""
    steps = [getattr(step, "sql", None) or step.when for step in rules.STEPS]
    steps.append(rules.REPLAY_AUDIT)
    found = [sql for sql in steps + [actions._START]
             if re.search(r"\b(" + "|".join(BY_PLAYER) + r")\b", sql)]
    assert found
    return found


@pytest.mark.parametrize("sql", statements())
def test_every_statement_of_the_write_path_names_the_player(sql):
    # The player's id: :user in the rules, %(user)s in the start; as a key column's value.
    player = r"(:user|%\(user\)s)"
    names = re.search(rf"\b(user_id|id)\s*=\s*{player}", sql) or (
        sql.lstrip().startswith("INSERT") and re.search(player, sql))
    assert names, sql
