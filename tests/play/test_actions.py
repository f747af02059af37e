"""A start's statement runs on PostgreSQL as the function a migration holds: that function
must be exactly the statement rendered (actions.issue_ticket_sql)."""

from scoreboard.play import actions

from ..harness.databases import newest_migration_with


def test_the_start_function_in_the_newest_migration_is_the_start_rendered():
    assert newest_migration_with("START_FUNCTION").START_FUNCTION == (
        actions.issue_ticket_sql()), (
        "scoreboard/play/actions.py's _START changed: add a migration that replaces "
        "issue_ticket with the text of `python -c 'from scoreboard.play.actions import "
        "issue_ticket_sql; print(issue_ticket_sql())'`")
