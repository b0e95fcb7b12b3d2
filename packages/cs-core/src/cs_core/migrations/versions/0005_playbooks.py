"""Playbooks: tasks, account flags, and the engine's runs, firings, actions, cursors and
episodes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('playbook_cursors',
    sa.Column('playbook', sa.String(length=63), nullable=False),
    sa.Column('last_event_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.PrimaryKeyConstraint('playbook', name=op.f('pk_playbook_cursors'))
    )
    op.create_table('playbook_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('as_of', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('playbooks', sa.JSON(), nullable=False),
    sa.Column('fired', sa.Integer(), nullable=False),
    sa.Column('tasks_created', sa.Integer(), nullable=False),
    sa.Column('actions_sent', sa.Integer(), nullable=False),
    sa.Column('actions_failed', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_playbook_runs'))
    )
    op.create_table('account_flags',
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('flag', sa.String(length=63), nullable=False),
    sa.Column('value', sa.String(length=255), nullable=False),
    sa.Column('set_by', sa.String(length=255), nullable=False),
    sa.Column('set_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_account_flags_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_id', 'flag', name=op.f('pk_account_flags'))
    )
    op.create_table('playbook_episodes',
    sa.Column('playbook', sa.String(length=63), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('occurrence', sa.String(length=127), nullable=False),
    sa.Column('began_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_playbook_episodes_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('playbook', 'account_id', 'occurrence', name=op.f('pk_playbook_episodes'))
    )
    op.create_table('playbook_firings',
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('playbook', sa.String(length=63), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('tier', sa.String(length=32), nullable=True),
    sa.Column('fired_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_playbook_firings_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['playbook_runs.id'], name=op.f('fk_playbook_firings_run_id_playbook_runs')),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_playbook_firings'))
    )
    op.create_index(op.f('ix_playbook_firings_account_id'), 'playbook_firings', ['account_id'], unique=False)
    op.create_index(op.f('ix_playbook_firings_playbook_fired_at'), 'playbook_firings', ['playbook', 'fired_at'], unique=False)
    op.create_table('tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('type', sa.Enum('risk', 'opportunity', 'lifecycle', name='type', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('owner_role', sa.String(length=63), nullable=False),
    sa.Column('owner', sa.String(length=255), nullable=True),
    sa.Column('priority', sa.Enum('low', 'medium', 'high', 'urgent', name='priority', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('status', sa.Enum('open', 'snoozed', 'done', name='status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('snoozed_until', sa.Date(), nullable=True),
    sa.Column('escalation_level', sa.Integer(), nullable=False),
    sa.Column('playbook', sa.String(length=63), nullable=True),
    sa.Column('firing_key', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_by', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_tasks_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tasks'))
    )
    op.create_index(op.f('ix_tasks_account_id_status'), 'tasks', ['account_id', 'status'], unique=False)
    op.create_index(op.f('ix_tasks_owner_status'), 'tasks', ['owner', 'status'], unique=False)
    op.create_table('playbook_actions',
    sa.Column('firing_key', sa.String(length=255), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('channel', sa.String(length=63), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=1000), nullable=True),
    sa.Column('notification', sa.JSON(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['firing_key'], ['playbook_firings.key'], name=op.f('fk_playbook_actions_firing_key_playbook_firings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('firing_key', 'position', name=op.f('pk_playbook_actions'))
    )
    op.create_index(op.f('ix_playbook_actions_status_next_attempt_at'), 'playbook_actions', ['status', 'next_attempt_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_playbook_actions_status_next_attempt_at'), table_name='playbook_actions')
    op.drop_table('playbook_actions')
    op.drop_index(op.f('ix_tasks_owner_status'), table_name='tasks')
    op.drop_index(op.f('ix_tasks_account_id_status'), table_name='tasks')
    op.drop_table('tasks')
    op.drop_index(op.f('ix_playbook_firings_playbook_fired_at'), table_name='playbook_firings')
    op.drop_index(op.f('ix_playbook_firings_account_id'), table_name='playbook_firings')
    op.drop_table('playbook_firings')
    op.drop_table('playbook_episodes')
    op.drop_table('account_flags')
    op.drop_table('playbook_runs')
    op.drop_table('playbook_cursors')
