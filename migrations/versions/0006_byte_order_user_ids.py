"""Compare player ids by their bytes on PostgreSQL (COLLATE "C"), as SQLite and Redis do.

The board's last tie-break is the player id. Redis rank sets and SQLite compare bytes, while
PostgreSQL compares with the database's collation (en_US.UTF-8 on most servers, where
"alice" sorts before "Bob"): the same tie would be broken differently on /top and in ranks.

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

# The columns the board orders by; other user id columns are only matched for equality.
COLUMNS = (('users', 'id'), ('window_scores', 'user_id'))


def _collate(collation):
    if op.get_bind().dialect.name != 'postgresql':
        return  # SQLite compares bytes already (BINARY)
    for table, column in COLUMNS:
        op.alter_column(table, column, type_=sa.String(length=64, collation=collation),
                        existing_nullable=False)


def upgrade():
    _collate('C')


def downgrade():
    _collate('default')
