"""The state schema as reconcile 0.1 made it with ``create_all`` (meta ``schema_version`` 1).

A state from before the migrations has these tables and no ``alembic_version``: it is stamped
with this revision, then upgraded (:mod:`reconciler.state.schema`).
"""

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('call_days',
    sa.Column('integration', sa.String(length=64), nullable=False),
    sa.Column('environment', sa.String(length=32), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('records', sa.Integer(), nullable=False),
    sa.Column('complete', sa.Boolean(), nullable=False),
    sa.Column('imported_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('integration', 'environment', 'day')
    )
    op.create_table('call_records',
    sa.Column('integration', sa.String(length=64), nullable=False),
    sa.Column('record_id', sa.String(length=128), nullable=False),
    sa.Column('environment', sa.String(length=32), nullable=False),
    sa.Column('account_code', sa.String(length=32), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('call_type', sa.String(length=16), nullable=False),
    sa.Column('duration_seconds', sa.Integer(), nullable=False),
    sa.Column('cost', sa.String(length=24), nullable=False),
    sa.Column('destination', sa.String(length=32), nullable=False),
    sa.Column('imported_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('integration', 'record_id')
    )
    with op.batch_alter_table('call_records', schema=None) as batch_op:
        batch_op.create_index('ix_call_records_line_time',
                              ['integration', 'account_code', 'started_at'], unique=False)
        batch_op.create_index('ix_call_records_time', ['integration', 'started_at'], unique=False)

    op.create_table('catalogs',
    sa.Column('integration', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('entries', sa.JSON(), nullable=False),
    sa.Column('synced_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('integration', 'name')
    )
    op.create_table('charge_calls',
    sa.Column('fetch_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('origin', sa.String(length=32), nullable=False),
    sa.Column('destination', sa.String(length=32), nullable=False),
    sa.Column('call_type', sa.String(length=16), nullable=False),
    sa.Column('duration_seconds', sa.Integer(), nullable=False),
    sa.Column('amount', sa.String(length=24), nullable=False),
    sa.PrimaryKeyConstraint('fetch_id', 'number', 'seq')
    )
    op.create_table('charge_fetches',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('integration', sa.String(length=64), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('detailed', sa.Boolean(), nullable=False),
    sa.Column('closed', sa.Boolean(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('numbers', sa.Integer(), nullable=False),
    sa.Column('total', sa.String(length=24), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('charge_fetches', schema=None) as batch_op:
        batch_op.create_index('ix_charge_fetches_month', ['integration', 'month'], unique=False)

    op.create_table('charges',
    sa.Column('fetch_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=True),
    sa.Column('plan_id', sa.Integer(), nullable=True),
    sa.Column('allowance_minutes', sa.Integer(), nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=False),
    sa.Column('calls', sa.Integer(), nullable=False),
    sa.Column('total', sa.String(length=24), nullable=False),
    sa.Column('franchise', sa.String(length=24), nullable=False),
    sa.Column('overage', sa.String(length=24), nullable=False),
    sa.PrimaryKeyConstraint('fetch_id', 'number')
    )
    op.create_table('drift_seen',
    sa.Column('address', sa.String(length=256), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('integration', sa.String(length=64), nullable=False),
    sa.Column('first_seen', sa.DateTime(), nullable=False),
    sa.Column('last_seen', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('address', 'kind')
    )
    with op.batch_alter_table('drift_seen', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_drift_seen_integration'), ['integration'], unique=False)

    op.create_table('journal',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('change_id', sa.String(length=300), nullable=False),
    sa.Column('integration', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('keys', sa.JSON(), nullable=False),
    sa.Column('intent_at', sa.DateTime(), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('journal', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_journal_outcome'), ['outcome'], unique=False)
        batch_op.create_index(batch_op.f('ix_journal_run_id'), ['run_id'], unique=False)

    op.create_table('locks',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('holder', sa.String(length=256), nullable=False),
    sa.Column('operation', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('heartbeat_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('name'),
    sa.UniqueConstraint('id')
    )
    op.create_table('meta',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('plan_files',
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('lineage', sa.String(length=64), nullable=False),
    sa.Column('serial', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.String(length=40), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=True),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.Column('holder', sa.String(length=256), nullable=False),
    sa.PrimaryKeyConstraint('digest')
    )
    with op.batch_alter_table('plan_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_plan_files_created_at'), ['created_at'], unique=False)

    op.create_table('resources',
    sa.Column('address', sa.String(length=256), nullable=False),
    sa.Column('integration', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('remote_id', sa.String(length=128), nullable=True),
    sa.Column('attributes', sa.JSON(), nullable=False),
    sa.Column('observed', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('serial', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('address')
    )
    with op.batch_alter_table('resources', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_resources_integration'), ['integration'], unique=False)

    op.create_table('runs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('command', sa.String(length=32), nullable=False),
    sa.Column('user', sa.String(length=128), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('plan_digest', sa.String(length=64), nullable=True),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    sa.Column('summary', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('schedule_runs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('job', sa.String(length=64), nullable=False),
    sa.Column('run', sa.String(length=32), nullable=False),
    sa.Column('due_at', sa.DateTime(), nullable=False),
    sa.Column('missed', sa.JSON(), nullable=False),
    sa.Column('missed_count', sa.Integer(), nullable=False),
    sa.Column('holder', sa.String(length=256), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('exit_code', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('report', sa.String(length=1024), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('job', 'due_at', name='uq_schedule_runs_job_due')
    )
    with op.batch_alter_table('schedule_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_schedule_runs_job'), ['job'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('schedule_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_schedule_runs_job'))

    op.drop_table('schedule_runs')
    op.drop_table('runs')
    with op.batch_alter_table('resources', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_resources_integration'))

    op.drop_table('resources')
    with op.batch_alter_table('plan_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_plan_files_created_at'))

    op.drop_table('plan_files')
    op.drop_table('meta')
    op.drop_table('locks')
    with op.batch_alter_table('journal', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_journal_run_id'))
        batch_op.drop_index(batch_op.f('ix_journal_outcome'))

    op.drop_table('journal')
    with op.batch_alter_table('drift_seen', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_drift_seen_integration'))

    op.drop_table('drift_seen')
    op.drop_table('charges')
    with op.batch_alter_table('charge_fetches', schema=None) as batch_op:
        batch_op.drop_index('ix_charge_fetches_month')

    op.drop_table('charge_fetches')
    op.drop_table('charge_calls')
    op.drop_table('catalogs')
    with op.batch_alter_table('call_records', schema=None) as batch_op:
        batch_op.drop_index('ix_call_records_time')
        batch_op.drop_index('ix_call_records_line_time')

    op.drop_table('call_records')
    op.drop_table('call_days')
