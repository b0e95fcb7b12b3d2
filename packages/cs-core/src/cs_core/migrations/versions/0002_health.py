"""Health: scores and their history, runs, rescoring marks, overrides, signals, churn models,
and the product's features.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "churn_models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("horizon_days", sa.Integer(), nullable=False),
        sa.Column("model", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_churn_models")),
    )
    op.create_table(
        "product_features",
        sa.Column("feature", sa.String(length=255), nullable=False),
        sa.Column("first_used", sa.Date(), nullable=False),
        sa.Column("last_used", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("feature", name=op.f("pk_product_features")),
    )
    op.create_table(
        "scoring_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accounts", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scoring_runs")),
    )
    op.create_table(
        "accounts_to_rescore",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_accounts_to_rescore_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_accounts_to_rescore")),
    )
    op.create_table(
        "health_history",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scorecard_id", sa.String(length=63), nullable=False),
        sa.Column("scorecard_version", sa.Integer(), nullable=False),
        sa.Column("scorecard_fingerprint", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("tier", sa.String(length=32), nullable=True),
        sa.Column("previous_score", sa.Float(), nullable=True),
        sa.Column("previous_tier", sa.String(length=32), nullable=True),
        sa.Column("cause", sa.String(length=16), nullable=False),
        sa.Column("measures", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_health_history_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["scoring_runs.id"], name=op.f("fk_health_history_run_id_scoring_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_history")),
    )
    op.create_index(
        op.f("ix_health_history_account_id_as_of"),
        "health_history",
        ["account_id", "as_of"],
        unique=False,
    )
    op.create_index(op.f("ix_health_history_run_id"), "health_history", ["run_id"], unique=False)

    op.create_table(
        "health_overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("scorecard_id", sa.String(length=63), nullable=False),
        sa.Column("computed_score", sa.Float(), nullable=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("tier", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=2000), nullable=False),
        sa.Column("author", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cleared_by", sa.String(length=255), nullable=True),
        sa.CheckConstraint(
            "score >= 0 AND score <= 100", name=op.f("ck_health_overrides_score_in_range")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_health_overrides_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_overrides")),
    )
    op.create_index(
        op.f("ix_health_overrides_account_id_created_at"),
        "health_overrides",
        ["account_id", "created_at"],
        unique=False,
    )

    op.create_table(
        "health_scores",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("scorecard_id", sa.String(length=63), nullable=False),
        sa.Column("scorecard_version", sa.Integer(), nullable=False),
        sa.Column("scorecard_fingerprint", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("tier", sa.String(length=32), nullable=True),
        sa.Column("measures", sa.JSON(), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_health_scores_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["scoring_runs.id"], name=op.f("fk_health_scores_run_id_scoring_runs")
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_health_scores")),
    )
    op.create_index(op.f("ix_health_scores_tier"), "health_scores", ["tier"], unique=False)

    op.create_table(
        "signals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=63), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_signals_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signals")),
    )
    op.create_index(
        op.f("ix_signals_account_id_kind_resolved_at"),
        "signals",
        ["account_id", "kind", "resolved_at"],
        unique=False,
    )
    op.create_index(op.f("ix_signals_resolved_at"), "signals", ["resolved_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_signals_resolved_at"), table_name="signals")
    op.drop_index(op.f("ix_signals_account_id_kind_resolved_at"), table_name="signals")

    op.drop_table("signals")
    op.drop_index(op.f("ix_health_scores_tier"), table_name="health_scores")

    op.drop_table("health_scores")
    op.drop_index(op.f("ix_health_overrides_account_id_created_at"), table_name="health_overrides")

    op.drop_table("health_overrides")
    op.drop_index(op.f("ix_health_history_run_id"), table_name="health_history")
    op.drop_index(op.f("ix_health_history_account_id_as_of"), table_name="health_history")

    op.drop_table("health_history")
    op.drop_table("accounts_to_rescore")
    op.drop_table("scoring_runs")
    op.drop_table("product_features")
    op.drop_table("churn_models")
