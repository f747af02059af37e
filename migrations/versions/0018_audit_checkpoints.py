"""Add the audit log's checkpoints: which archives hold the events before a boundary, and
each player's all-time and window scores as of it (play/archive.py), from which
``verify`` goes on with the events still in the table.

Expand only: two new tables, which the release still serving neither reads nor writes.
checkpoint_scores is keyed by the player first, to be distributed by player with the
other tables (docs/SCALING.md); audit_checkpoints names no player, a reference table.

Revision ID: 0018
Revises: 0017
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('audit_checkpoints',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('boundary', sa.DateTime(), nullable=False),
    sa.Column('since', sa.DateTime(), nullable=True),
    sa.Column('rows', sa.BigInteger(), nullable=False),
    sa.Column('archive', sa.String(length=255), nullable=False),
    sa.Column('made_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_checkpoints'))
    )
    op.create_table('checkpoint_scores',
    sa.Column('user_id', sa.String(length=64).with_variant(sa.String(length=64, collation='C'), 'postgresql'), nullable=False),
    sa.Column('period', sa.String(length=16), nullable=False),
    sa.Column('score', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('user_id', 'period', name=op.f('pk_checkpoint_scores'))
    )


def downgrade():
    op.drop_table('checkpoint_scores')
    op.drop_table('audit_checkpoints')
