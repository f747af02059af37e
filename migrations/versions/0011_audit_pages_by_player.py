"""Index the audit log by player and id, for an admin's pages of one player's events,
newest first. It replaces the index on the player alone, which answered the same lookups:
every write adds an audit row, so the log keeps one index beside its key, not two.

Built concurrently on PostgreSQL: the log takes a row with every update, and a plain
CREATE INDEX would hold those writes for as long as it reads the whole table.

Revision ID: 0011
Revises: 0010
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def _swap(new: str, new_columns: list, old: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.create_index(new, 'audit_events', new_columns, postgresql_concurrently=True)
            op.drop_index(old, 'audit_events', postgresql_concurrently=True)
    else:
        op.create_index(new, 'audit_events', new_columns)
        op.drop_index(old, 'audit_events')


def upgrade():
    _swap('ix_audit_events_user_pages', ['user_id', 'id'], 'ix_audit_events_user_id')


def downgrade():
    _swap('ix_audit_events_user_id', ['user_id'], 'ix_audit_events_user_pages')
