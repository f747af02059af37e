"""Create the scoreboard tables: players, action catalog and tickets, audit log, board state
and revoked tokens.

Revision ID: 0001
Revises: 
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('action_types',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('min_seconds', sa.Integer(), nullable=False),
    sa.Column('cooldown_seconds', sa.Integer(), nullable=False),
    sa.Column('daily_limit', sa.Integer(), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.CheckConstraint('min_seconds >= 0 AND cooldown_seconds >= 0', name=op.f('ck_action_types_durations')),
    sa.CheckConstraint('points > 0', name=op.f('ck_action_types_points_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_action_types'))
    )
    op.create_table('audit_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('action_type', sa.String(length=32), nullable=True),
    sa.Column('ticket_id', sa.String(length=64), nullable=True),
    sa.Column('delta', sa.Integer(), nullable=False),
    sa.Column('score_after', sa.BigInteger(), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('client_ip', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_events_user_id'), ['user_id'], unique=False)

    board_state = op.create_table('board_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_board_state'))
    )
    # The single row whose version orders every change to the top of the board.
    op.bulk_insert(board_state, [{'id': 1, 'version': 0}])
    op.create_table('revoked_tokens',
    sa.Column('jti', sa.String(length=128), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('jti', name=op.f('pk_revoked_tokens'))
    )
    op.create_table('users',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=64), nullable=False),
    sa.Column('region', sa.String(length=8), nullable=True),
    sa.Column('score', sa.BigInteger(), nullable=False),
    sa.Column('score_reached_at', sa.DateTime(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('score >= 0', name=op.f('ck_users_score_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users'))
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index('ix_users_ranking', [sa.literal_column('score DESC'), 'score_reached_at', 'id'], unique=False)

    op.create_table('action_tickets',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('action_type', sa.String(length=32), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('not_before', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('completed_at', sa.DateTime(), nullable=True),
    sa.Column('score_after', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['action_type'], ['action_types.id'], name=op.f('fk_action_tickets_action_type_action_types')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_action_tickets_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_action_tickets'))
    )
    with op.batch_alter_table('action_tickets', schema=None) as batch_op:
        batch_op.create_index('ix_action_tickets_completions', ['user_id', 'action_type', 'completed_at'], unique=False)



def downgrade():
    with op.batch_alter_table('action_tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_action_tickets_completions')

    op.drop_table('action_tickets')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index('ix_users_ranking')

    op.drop_table('users')
    op.drop_table('revoked_tokens')
    op.drop_table('board_state')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_events_user_id'))

    op.drop_table('audit_events')
    op.drop_table('action_types')
