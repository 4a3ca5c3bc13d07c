"""Locks per integration: a lock's name is ``integration:<name>`` (up to 64 characters of
integration name), where it was the one name "state".

The schema version in ``meta`` moves to 2, so that a tool of schema 1, which takes the one
"state" lock and would not see the others, refuses the state instead of running beside them.
On SQLite the column changes by a copy of the table (batch mode), from the table as revision
0001 made it, so that the SQL can be shown without reading the database.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

meta = sa.table("meta", sa.column("key", sa.String), sa.column("value", sa.Text))


def _locks(name_length: int) -> sa.Table:
    return sa.Table(
        "locks", sa.MetaData(),
        sa.Column("name", sa.String(name_length), primary_key=True),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("holder", sa.String(256), nullable=False),
        sa.Column("operation", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False))


def _lock_name(length: int, was: int) -> None:
    with op.batch_alter_table("locks", copy_from=_locks(was)) as batch:
        batch.alter_column("name", existing_type=sa.String(was), type_=sa.String(length),
                           existing_nullable=False)


def upgrade() -> None:
    _lock_name(128, 32)
    op.execute(meta.update().where(meta.c.key == "schema_version").values(value="2"))


def downgrade() -> None:
    op.execute(meta.update().where(meta.c.key == "schema_version").values(value="1"))
    _lock_name(32, 128)
