"""Count a player's refusals by their rate limit in one audit row a minute, so a client
hammering past its limit adds rows at a bounded rate without losing how many it made:
a ``count`` on every row (1 for each row as before), and a unique index on the player,
the outcome and the minute for the rows that count (outcome ``rate_limited``), which the
count's upsert names.

Expand only: the release still serving during the deploy writes its rows without a count,
which the server default makes 1, and its refusals as ``rejected`` rows, which the index
leaves out. The index is built concurrently on PostgreSQL, as every play appends to the
log (see 0011).

Revision ID: 0014
Revises: 0013
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

INDEX = 'uq_audit_events_refusal_counts'
COUNTED = sa.text("outcome = 'rate_limited'")


def upgrade():
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('count', sa.Integer(), nullable=False,
                                      server_default=sa.text('1')))
    if op.get_bind().dialect.name == 'postgresql':
        with op.get_context().autocommit_block():
            op.create_index(INDEX, 'audit_events', ['user_id', 'outcome', 'at'], unique=True,
                            postgresql_where=COUNTED, postgresql_concurrently=True)
    else:
        op.create_index(INDEX, 'audit_events', ['user_id', 'outcome', 'at'], unique=True,
                        sqlite_where=COUNTED)


def downgrade():
    op.drop_index(INDEX, 'audit_events')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_column('count')
