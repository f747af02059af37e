"""Add per-window (day, ISO week) scores.

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('window_scores',
    sa.Column('period', sa.String(length=16), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('score', sa.BigInteger(), nullable=False),
    sa.Column('score_reached_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('period', 'user_id', name=op.f('pk_window_scores'))
    )
    with op.batch_alter_table('window_scores', schema=None) as batch_op:
        batch_op.create_index('ix_window_scores_ranking', ['period', sa.literal_column('score DESC'), 'score_reached_at', 'user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('window_scores', schema=None) as batch_op:
        batch_op.drop_index('ix_window_scores_ranking')

    op.drop_table('window_scores')
