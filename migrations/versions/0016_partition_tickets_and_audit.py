"""Partition the two tables that grow with every play, ``audit_events`` by ``at`` and
``action_tickets`` by ``created_at``, a partition a UTC day (docs/SCALING.md says why), with
primary keys that lead with the player: (user_id, <time>, id).

PostgreSQL, expand only. The existing table is not copied: it becomes the partition of
everything before a boundary B (the start of the day after tomorrow, or of the day after the
newest row if that is later), under a new partitioned parent of the same name and columns.
A DEFAULT partition takes any row no day covers yet, so a write never fails for want of a
partition. The days from B on get partitions of their own from `flask scoreboard maintain`
(the release phase runs it after this, and every worker on a timer), each in a short
transaction of its own that moves that day's rows, if any, out of the default.

The slow parts run first, outside any transaction and without blocking the release still
serving: the new keys' indexes are built CONCURRENTLY on the existing table, and a CHECK
(<time> < B) is added NOT VALID and then validated (SHARE UPDATE EXCLUSIVE: writes go on).
The swap itself is one short transaction whose work does not grow with the table: rename
the table, swap its primary key for the index built before (USING INDEX), create the parent
and its indexes, ATTACH the old table (the validated CHECK spares the scan) and create the
default partition. docs/SCALING.md gives its lock time on a large table.

The release still serving keeps working throughout and after: its statements name the
tables and columns as before; the procedure it calls (complete_action, 0015's signature) is
left as it is; its look-ups of a ticket by id alone find an index on id in every partition.
Only the idempotency keys of admin acts lose their unique index (a unique index of a
partitioned table must hold the partition key): the serving code of this release takes an
advisory lock on the key instead (moderation._done_before). On SQLite the tables stay plain
and only that index changes.

Revision ID: 0016
Revises: 0015
"""
import random
import time

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

# Exclusive locks are waited for this long a try (below PostgreSQL's 1 s deadlock_timeout),
# this many times.
LOCK_WAIT_MS = 100
LOCK_TRIES = 300
KEYED = 'idempotency_key IS NOT NULL'

# table -> its partition key, the indexes its partitioned parent gets (name: definition),
# and, for the existing table, the names its own indexes take as the history partition's.
TABLES = {
    'audit_events': {
        'key': 'at',
        'indexes': {
            'ix_audit_events_user_pages': '(user_id, id)',
            'ix_audit_events_idempotency': f'(actor, idempotency_key) WHERE {KEYED}',
            'uq_audit_events_refusal_counts':
                "UNIQUE (user_id, outcome, at) WHERE outcome = 'rate_limited'",
        },
        # built concurrently on the existing table beforehand, to match the parent's
        'built': {'ix_audit_events_idempotency': f'(actor, idempotency_key) WHERE {KEYED}'},
        'renamed': ('ix_audit_events_user_pages', 'uq_audit_events_refusal_counts'),
        'dropped': ('uq_audit_events_idempotency',),
        'foreign_keys': {},
        'sequence': 'audit_events_id_seq',
    },
    'action_tickets': {
        'key': 'created_at',
        'indexes': {
            'ix_action_tickets_completions': '(user_id, action_type, completed_at)',
            # The previous release looks a ticket up by id alone.
            'ix_action_tickets_id': '(id)',
        },
        'built': {'ix_action_tickets_id': '(id)'},
        'renamed': ('ix_action_tickets_completions',),
        'dropped': (),
        'foreign_keys': {
            'fk_action_tickets_user_id_users': '(user_id) REFERENCES users (id)',
            'fk_action_tickets_action_type_action_types':
                '(action_type) REFERENCES action_types (id)',
        },
        'sequence': None,
    },
}


def _history(table: str, name: str) -> str:
    # An index of the existing table, once it is the partition of the past.
    return name.replace(table, f'{table}_history', 1)


def _definition(definition: str) -> tuple[str, str]:
    unique = definition.startswith('UNIQUE ')
    return ('UNIQUE ' if unique else ''), definition.removeprefix('UNIQUE ')


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name != 'postgresql':
        with op.batch_alter_table('audit_events', schema=None) as batch_op:
            batch_op.drop_index('uq_audit_events_idempotency')
        op.create_index('ix_audit_events_idempotency', 'audit_events',
                        ['actor', 'idempotency_key'], sqlite_where=sa.text(KEYED))
        op.create_index('ix_action_tickets_id', 'action_tickets', ['id'])
        return
    with op.get_context().autocommit_block():
        op.execute('SET statement_timeout = 0')
        for table, spec in TABLES.items():
            _prepare(table, spec)
    op.execute('SET LOCAL statement_timeout = 0')
    _lock_all()
    for table, spec in TABLES.items():
        _swap(table, spec)


def _lock_all() -> None:
    """Every lock the swap needs, before it starts: taken as it went, the swap held one
    table while a play holding the next waited for the first, and the database broke the
    deadlock by failing one. The tickets' foreign keys, as they become the parent's, move
    their triggers on users and action_types, which takes those tables' exclusive lock
    too. The plays take these tables in more than one order (a start reads the catalog
    before the player, a completion after), so no order of taking them is safe either."""
    op.execute(f"SET LOCAL lock_timeout = '{LOCK_WAIT_MS}ms'")
    _retrying('LOCK TABLE users, action_types, action_tickets, audit_events'
              ' IN ACCESS EXCLUSIVE MODE', savepoint=True)


def _retrying(statement: str, savepoint: bool) -> None:
    """Run ``statement``, whose exclusive locks the plays would queue behind, under a
    lock_timeout of LOCK_WAIT_MS: each try waits that long at most (less than the
    deadlock check), gives back what it took, and tries again. So a play never waits long
    for it, and is never the one a deadlock fails."""
    for _ in range(LOCK_TRIES):
        if savepoint:
            op.execute('SAVEPOINT locking')
        try:
            op.execute(statement)
        except sa.exc.OperationalError as error:
            if getattr(error.orig, 'pgcode', None) != '55P03':  # lock_not_available
                raise
            if savepoint:
                op.execute('ROLLBACK TO SAVEPOINT locking')
            time.sleep(random.uniform(0, LOCK_WAIT_MS / 1000))
            continue
        if savepoint:
            op.execute('RELEASE SAVEPOINT locking')
        return
    raise RuntimeError(f'0016 did not get its locks in {LOCK_TRIES} tries: run it again')


def _prepare(table: str, spec: dict) -> None:
    """The slow part, which blocks no writer: the indexes the partition of the past needs,
    and the proof that it holds nothing from B on."""
    key = spec['key']
    indexes = {f'{table}_history_key': f'(user_id, {key}, id)', **{
        _history(table, name): definition for name, definition in spec['built'].items()}}
    for name, definition in indexes.items():
        # A build cut short leaves an invalid index behind: this starts it again.
        op.execute(f'DROP INDEX CONCURRENTLY IF EXISTS {name}')
        unique = 'UNIQUE ' if name.endswith('_key') else ''
        op.execute(f'CREATE {unique}INDEX CONCURRENTLY {name} ON {table} {definition}')
    op.execute(f"SET lock_timeout = '{LOCK_WAIT_MS}ms'")
    _retrying(f'ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {table}_history_bound',
              savepoint=False)
    bound = op.get_bind().execute(sa.text(
        f"SELECT greatest(date_trunc('day', now() AT TIME ZONE 'UTC') + interval '2 days',"
        f" date_trunc('day', max({key})) + interval '1 day') FROM {table}")).scalar_one()
    _retrying(f"ALTER TABLE {table} ADD CONSTRAINT {table}_history_bound"
              f" CHECK ({key} < '{bound.isoformat()}') NOT VALID", savepoint=False)
    op.execute('RESET lock_timeout')
    op.execute(f'ALTER TABLE {table} VALIDATE CONSTRAINT {table}_history_bound')


def _swap(table: str, spec: dict) -> None:
    """The short part, in the migration's transaction: none of it reads the table's rows."""
    key, history = spec['key'], f'{table}_history'
    bound = op.get_bind().execute(sa.text(
        "SELECT substring(pg_get_constraintdef(oid) from '''(.*)''') FROM pg_constraint"
        " WHERE conname = :name"), {'name': f'{table}_history_bound'}).scalar_one()
    op.execute(f'ALTER TABLE {table} RENAME TO {history}')
    for name in spec['dropped']:
        op.execute(f'DROP INDEX {name}')
    for name in spec['renamed']:
        op.execute(f'ALTER INDEX {name} RENAME TO {_history(table, name)}')
    op.execute(f'ALTER TABLE {history} DROP CONSTRAINT pk_{table}')
    op.execute(f'ALTER TABLE {history} ADD CONSTRAINT pk_{history}'
               f' PRIMARY KEY USING INDEX {history}_key')
    op.execute(f'CREATE TABLE {table} (LIKE {history} INCLUDING DEFAULTS)'
               f' PARTITION BY RANGE ({key})')
    op.execute(f'ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY (user_id, {key}, id)')
    for name, definition in spec['indexes'].items():
        unique, columns = _definition(definition)
        op.execute(f'CREATE {unique}INDEX {name} ON {table} {columns}')
    if spec['sequence']:
        # The parent's column draws from it now; it must outlive the partition of the past.
        op.execute(f"ALTER SEQUENCE {spec['sequence']} OWNED BY {table}.id")
    op.execute(f"ALTER TABLE {table} ATTACH PARTITION {history}"
               f" FOR VALUES FROM (MINVALUE) TO ('{bound}')")
    op.execute(f'ALTER TABLE {history} DROP CONSTRAINT {table}_history_bound')
    # After the ATTACH: each partition's own matching constraint is taken as its part.
    for name, definition in spec['foreign_keys'].items():
        op.execute(f'ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY {definition}')
    op.execute(f'CREATE TABLE {table}_default PARTITION OF {table} DEFAULT')


def downgrade():
    """Back to plain tables: every row is copied, under an exclusive lock for the copy."""
    if op.get_bind().dialect.name != 'postgresql':
        op.drop_index('ix_action_tickets_id', 'action_tickets')
        op.drop_index('ix_audit_events_idempotency', 'audit_events')
        op.create_index('uq_audit_events_idempotency', 'audit_events',
                        ['actor', 'idempotency_key'], unique=True, sqlite_where=sa.text(KEYED))
        return
    op.execute('SET LOCAL statement_timeout = 0')
    for table, spec in TABLES.items():
        op.execute(f'ALTER TABLE {table} RENAME TO {table}_partitioned')
        op.execute(f'CREATE TABLE {table} (LIKE {table}_partitioned INCLUDING DEFAULTS)')
        op.execute(f'INSERT INTO {table} SELECT * FROM {table}_partitioned')
        if spec['sequence']:
            op.execute(f"ALTER SEQUENCE {spec['sequence']} OWNED BY {table}.id")
        op.execute(f'DROP TABLE {table}_partitioned')
        op.execute(f'ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY (id)')
        for name, definition in spec['indexes'].items():
            if name in spec['built']:
                continue
            unique, columns = _definition(definition)
            op.execute(f'CREATE {unique}INDEX {name} ON {table} {columns}')
        for name, definition in spec['foreign_keys'].items():
            op.execute(f'ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY {definition}')
    op.execute('CREATE UNIQUE INDEX uq_audit_events_idempotency ON audit_events'
               f' (actor, idempotency_key) WHERE {KEYED}')
