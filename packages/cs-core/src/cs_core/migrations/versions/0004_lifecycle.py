"""Lifecycle: onboarding milestones recorded by sources, their status per account, and each
account's evaluated stage.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('account_lifecycle',
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.Enum('onboarding', 'adoption', 'success', 'expansion', 'renewal', 'churned', name='stage', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('entered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.String(length=255), nullable=False),
    sa.Column('onboarding_started_on', sa.Date(), nullable=True),
    sa.Column('time_to_value_days', sa.Integer(), nullable=True),
    sa.Column('at_risk', sa.Boolean(), nullable=False),
    sa.Column('evaluated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_account_lifecycle_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_id', name=op.f('pk_account_lifecycle'))
    )
    op.create_index(op.f('ix_account_lifecycle_stage'), 'account_lifecycle', ['stage'], unique=False)
    op.create_table('milestone_status',
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('milestone', sa.Enum('kickoff', 'technical_setup', 'first_value', 'training', 'handoff', name='milestone', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('evidence', sa.String(length=255), nullable=True),
    sa.Column('overdue_since', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_milestone_status_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_id', 'milestone', name=op.f('pk_milestone_status'))
    )
    op.create_table('milestones',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('milestone', sa.Enum('kickoff', 'technical_setup', 'first_value', 'training', 'handoff', name='milestone', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.String(length=2000), nullable=True),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('account_source', sa.String(length=63), nullable=True),
    sa.Column('account_external_id', sa.String(length=255), nullable=True),
    sa.Column('email_domain', sa.String(length=253), nullable=True),
    sa.Column('resolution', sa.Enum('origin', 'explicit', 'external_id', 'email_domain', name='resolution', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.Column('source', sa.String(length=63), nullable=False),
    sa.Column('external_id', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_milestones_account_id_accounts'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_milestones')),
    sa.UniqueConstraint('source', 'external_id', name=op.f('uq_milestones_source_external_id'))
    )
    op.create_index(op.f('ix_milestones_account_id'), 'milestones', ['account_id'], unique=False)
    op.create_index(op.f('ix_milestones_account_id_milestone'), 'milestones', ['account_id', 'milestone'], unique=False)
    op.create_index(op.f('ix_milestones_email_domain'), 'milestones', ['email_domain'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_milestones_email_domain'), table_name='milestones')
    op.drop_index(op.f('ix_milestones_account_id_milestone'), table_name='milestones')
    op.drop_index(op.f('ix_milestones_account_id'), table_name='milestones')
    op.drop_table('milestones')
    op.drop_table('milestone_status')
    op.drop_index(op.f('ix_account_lifecycle_stage'), table_name='account_lifecycle')
    op.drop_table('account_lifecycle')
