"""Add group invitations: an owner now invites a player, who becomes a member only by
joining.

Expand only: a new table beside the others. The previous release, which adds members
directly and knows nothing of invitations, keeps working while this runs and after.

Revision ID: 0012
Revises: 0011
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('group_invitations',
    sa.Column('group_id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('invited_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_group_invitations_group_id_groups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('group_id', 'user_id', name=op.f('pk_group_invitations'))
    )
    with op.batch_alter_table('group_invitations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_group_invitations_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('group_invitations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_group_invitations_user_id'))

    op.drop_table('group_invitations')
