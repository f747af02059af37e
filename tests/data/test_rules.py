"""The rules of completing an action are defined once (scoreboard/rules.py): the procedure
PostgreSQL runs must be exactly their rendering, and the one function they lean on must
compute the same on both backends."""

from datetime import datetime

import pytest
from sqlalchemy import text

from scoreboard.data import rules
from scoreboard.data.db import db
from scoreboard.play import scoring

from ..harness.databases import newest_migration_with


def test_the_procedure_in_the_newest_migration_is_the_rules_rendered():
    migration = newest_migration_with("PROCEDURE")
    assert migration.PROCEDURE == rules.procedure_sql(), (
        "scoreboard/rules.py changed: add a migration that replaces complete_action with the "
        "text of `python -c 'from scoreboard.data.rules import procedure_sql; "
        "print(procedure_sql())'`")
    assert newest_migration_with("SECONDS_BEFORE").SECONDS_BEFORE == rules.SECONDS_BEFORE_SQL


def test_every_refusal_of_the_rules_has_an_answer():
    codes = {step.missing for step in rules.STEPS if isinstance(step, rules.Fetch)
             if step.missing} | {step.code for step in rules.STEPS
                                 if isinstance(step, rules.Refuse)}
    # not_yours is scoring's: the rules look at the player's own tickets only.
    assert codes | {"not_yours"} == set(scoring.REFUSALS)


@pytest.mark.parametrize("stamp, seconds, expected", [
    (datetime(2026, 11, 30, 0, 0, 30, 250000), 60, datetime(2026, 11, 29, 23, 59, 30, 250000)),
    (datetime(2026, 1, 1, 0, 0, 0, 1), 1, datetime(2025, 12, 31, 23, 59, 59, 1)),
    (datetime(2026, 3, 1, 12, 0, 0), 0, datetime(2026, 3, 1, 12, 0, 0)),
])
def test_seconds_before_is_the_same_on_both_backends(app, stamp, seconds, expected):
    with app.app_context():
        on_sqlite = db.engine.dialect.name == "sqlite"
        found = db.session.execute(text("SELECT seconds_before(:stamp, :seconds)"), {
            "stamp": rules.sqlite_stamp(stamp) if on_sqlite else stamp,
            "seconds": seconds}).scalar_one()
        db.session.rollback()
    assert found == (rules.sqlite_stamp(expected) if on_sqlite else expected)
