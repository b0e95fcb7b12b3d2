"""Sync: streams' cursor state, runs and their streams, and the quarantine.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sync_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('connector', sa.String(length=63), nullable=False),
    sa.Column('full_refresh', sa.Boolean(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_runs'))
    )
    op.create_index(op.f('ix_sync_runs_connector'), 'sync_runs', ['connector'], unique=False)
    op.create_table('sync_state',
    sa.Column('connector', sa.String(length=63), nullable=False),
    sa.Column('stream', sa.String(length=63), nullable=False),
    sa.Column('state', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('connector', 'stream', name=op.f('pk_sync_state'))
    )
    op.create_table('quarantined_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('connector', sa.String(length=63), nullable=False),
    sa.Column('stream', sa.String(length=63), nullable=False),
    sa.Column('record_key', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.String(length=63), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('reason', sa.String(length=4000), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('quarantined_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['sync_runs.id'], name=op.f('fk_quarantined_records_run_id_sync_runs'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quarantined_records')),
    sa.UniqueConstraint('connector', 'stream', 'record_key', name=op.f('uq_quarantined_records_connector_stream_record_key'))
    )
    op.create_table('sync_run_streams',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('stream', sa.String(length=63), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('records_read', sa.Integer(), nullable=False),
    sa.Column('records_written', sa.Integer(), nullable=False),
    sa.Column('records_quarantined', sa.Integer(), nullable=False),
    sa.Column('retries', sa.Integer(), nullable=False),
    sa.Column('error', sa.String(length=2000), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['sync_runs.id'], name=op.f('fk_sync_run_streams_run_id_sync_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'stream', name=op.f('pk_sync_run_streams'))
    )


def downgrade() -> None:
    op.drop_table('sync_run_streams')
    op.drop_table('quarantined_records')
    op.drop_table('sync_state')
    op.drop_index(op.f('ix_sync_runs_connector'), table_name='sync_runs')
    op.drop_table('sync_runs')
