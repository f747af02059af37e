"""Board versions from a sequence on PostgreSQL, taken after the write commits.

Until now every accepted write bumped the one board_state row inside its transaction, so
each write that moved a board waited for the one before it to commit (including its WAL
flush). Now complete_action is a procedure that commits the write and only then takes the
next value of the board_version sequence: no lock at all, and versions still only go up,
across restarts too. A reader takes the version before it reads the rows (leaderboard.py),
so a snapshot labelled v holds every write that took a version up to v.

The procedure is 0007's function with two changes, applied to its text below: it is a
procedure (OUT parameters become INOUT, which CALL returns), and its tail commits before
taking the version instead of bumping the row.

Revision ID: 0008
Revises: 0007
"""
import importlib.util
from pathlib import Path

from alembic import op


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def _previous_function() -> str:
    path = Path(__file__).with_name('0007_complete_action_function.py')
    spec = importlib.util.spec_from_file_location('migration_0007', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.FUNCTION


BUMP = """    -- Last, so the board row stays locked for as short a time as possible.
    UPDATE board_state b SET version = b.version + 1 WHERE b.id = 1
    RETURNING b.version INTO o_version;
    o_outcome := 'accepted';
"""
COMMIT_THEN_VERSION = """    o_outcome := 'accepted';
    -- The version comes after the commit: whoever reads it next also sees this write.
    COMMIT;
    o_version := nextval('board_version');
"""
SIGNATURE = "complete_action(text, text, timestamp, text, text, text, text)"


def _procedure() -> str:
    function = _previous_function()
    assert BUMP in function and function.count('OUT o_') == 9
    return (function.replace('CREATE FUNCTION', 'CREATE PROCEDURE')
            .replace('OUT o_', 'INOUT o_').replace(BUMP, COMMIT_THEN_VERSION))


def upgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return  # SQLite keeps the version in board_state (one writer at a time there)
    op.execute('CREATE SEQUENCE board_version MINVALUE 0')
    op.execute("SELECT setval('board_version', version) FROM board_state WHERE id = 1")
    op.execute(f'DROP FUNCTION {SIGNATURE}')
    op.execute(_procedure())


def downgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute("UPDATE board_state SET version = (SELECT last_value FROM board_version)")
    op.execute('DROP PROCEDURE complete_action('
               'text, text, timestamp, text, text, text, text, '
               'text, text, text, bigint, text, bigint, bigint, bigint, text[])')
    op.execute('DROP SEQUENCE board_version')
    op.execute(_previous_function())
