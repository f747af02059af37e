"""Keep each admin act's idempotency key in its audit row, unique per actor, so that the
same act repeated under its key (a request run again after a dropped connection, a client
repeating a request whose reply it lost) is recognised and not applied twice.

Expand only: the column is nullable, and the release still serving during the deploy
writes its rows without a key, which the index leaves out. The index is built
concurrently on PostgreSQL, as every play appends to the log (see 0011).

Revision ID: 0013
Revises: 0012
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

INDEX = 'uq_audit_events_idempotency'
KEYED = sa.text('idempotency_key IS NOT NULL')


def upgrade():
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('idempotency_key', sa.String(length=64), nullable=True))
    if op.get_bind().dialect.name == 'postgresql':
        with op.get_context().autocommit_block():
            op.create_index(INDEX, 'audit_events', ['actor', 'idempotency_key'], unique=True,
                            postgresql_where=KEYED, postgresql_concurrently=True)
    else:
        op.create_index(INDEX, 'audit_events', ['actor', 'idempotency_key'], unique=True,
                        sqlite_where=KEYED)


def downgrade():
    op.drop_index(INDEX, 'audit_events')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_column('idempotency_key')
