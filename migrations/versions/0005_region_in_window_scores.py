"""Copy the player's region into window_scores, indexed, so a region's window is one range.

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('window_scores', schema=None) as batch_op:
        batch_op.add_column(sa.Column('region', sa.String(length=8), nullable=True))
        batch_op.create_index('ix_window_scores_region_ranking', ['period', 'region', sa.literal_column('score DESC'), 'score_reached_at', 'user_id'], unique=False)
    op.execute("UPDATE window_scores SET region = "
               "(SELECT region FROM users WHERE users.id = window_scores.user_id)")


def downgrade():
    with op.batch_alter_table('window_scores', schema=None) as batch_op:
        batch_op.drop_index('ix_window_scores_region_ranking')
        batch_op.drop_column('region')
