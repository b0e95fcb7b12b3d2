"""Initial schema: accounts and their identities, source records, usage rollups, outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=True),
        sa.Column(
            "segment",
            sa.Enum(
                "enterprise",
                "mid_market",
                "smb",
                "plg",
                name="segment",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("owner", sa.String(length=255), nullable=True),
        sa.Column("arr", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "lifecycle_stage",
            sa.Enum(
                "onboarding",
                "adoption",
                "success",
                "expansion",
                "renewal",
                "churned",
                name="lifecycle_stage",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("contract_start", sa.Date(), nullable=True),
        sa.Column("contract_end", sa.Date(), nullable=True),
        sa.Column("renewal_date", sa.Date(), nullable=True),
        sa.Column("licensed_seats", sa.Integer(), nullable=True),
        sa.Column("usage_limits", sa.JSON(), nullable=False),
        sa.Column("parent_external_id", sa.String(length=255), nullable=True),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=63), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("arr >= 0", name=op.f("ck_accounts_arr_not_negative")),
        sa.CheckConstraint(
            "contract_end >= contract_start", name=op.f("ck_accounts_contract_dates_ordered")
        ),
        sa.CheckConstraint("licensed_seats >= 0", name=op.f("ck_accounts_seats_not_negative")),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["accounts.id"],
            name=op.f("fk_accounts_parent_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("source", "external_id", name=op.f("uq_accounts_source_external_id")),
    )
    op.create_index(op.f("ix_accounts_domain"), "accounts", ["domain"], unique=False)
    op.create_index(op.f("ix_accounts_owner"), "accounts", ["owner"], unique=False)
    op.create_index(op.f("ix_accounts_parent_id"), "accounts", ["parent_id"], unique=False)
    op.create_index(op.f("ix_accounts_renewal_date"), "accounts", ["renewal_date"], unique=False)
    op.create_index(
        op.f("ix_accounts_source_parent_external_id"),
        "accounts",
        ["source", "parent_external_id"],
        unique=False,
    )

    op.create_table(
        "outbox_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_events")),
    )
    op.create_index(
        op.f("ix_outbox_events_account_id_id"), "outbox_events", ["account_id", "id"], unique=False
    )

    op.create_table(
        "account_identities",
        sa.Column("source", sa.String(length=63), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column(
            "method",
            sa.Enum(
                "origin",
                "explicit",
                "external_id",
                "email_domain",
                name="method",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("evidence", sa.String(length=500), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_account_identities_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("source", "external_id", name=op.f("pk_account_identities")),
    )
    op.create_index(
        op.f("ix_account_identities_account_id"), "account_identities", ["account_id"], unique=False
    )

    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("title", sa.String(length=255), nullable=True),
        sa.Column("is_champion", sa.Boolean(), nullable=False),
        sa.Column("is_executive_sponsor", sa.Boolean(), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "left_company",
                name="status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("last_engaged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("account_source", sa.String(length=63), nullable=True),
        sa.Column("account_external_id", sa.String(length=255), nullable=True),
        sa.Column("email_domain", sa.String(length=253), nullable=True),
        sa.Column(
            "resolution",
            sa.Enum(
                "origin",
                "explicit",
                "external_id",
                "email_domain",
                name="resolution",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("source", sa.String(length=63), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_contacts_account_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
        sa.UniqueConstraint("source", "external_id", name=op.f("uq_contacts_source_external_id")),
    )
    op.create_index(op.f("ix_contacts_account_id"), "contacts", ["account_id"], unique=False)
    op.create_index(op.f("ix_contacts_email_domain"), "contacts", ["email_domain"], unique=False)

    op.create_table(
        "contracts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("arr", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "active",
                "expired",
                "cancelled",
                "renewed",
                name="status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("auto_renew", sa.Boolean(), nullable=False),
        sa.Column(
            "renewal_track",
            sa.Enum(
                "auto",
                "standard",
                "complex",
                "at_risk",
                name="renewal_track",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("products", sa.JSON(), nullable=False),
        sa.Column("seats", sa.Integer(), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("account_source", sa.String(length=63), nullable=True),
        sa.Column("account_external_id", sa.String(length=255), nullable=True),
        sa.Column("email_domain", sa.String(length=253), nullable=True),
        sa.Column(
            "resolution",
            sa.Enum(
                "origin",
                "explicit",
                "external_id",
                "email_domain",
                name="resolution",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("source", sa.String(length=63), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("arr >= 0", name=op.f("ck_contracts_arr_not_negative")),
        sa.CheckConstraint("end_date > start_date", name=op.f("ck_contracts_dates_ordered")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_contracts_account_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contracts")),
        sa.UniqueConstraint("source", "external_id", name=op.f("uq_contracts_source_external_id")),
    )
    op.create_index(op.f("ix_contracts_account_id"), "contracts", ["account_id"], unique=False)
    op.create_index(op.f("ix_contracts_end_date"), "contracts", ["end_date"], unique=False)

    op.create_table(
        "opportunities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column(
            "type",
            sa.Enum(
                "new",
                "renewal",
                "expansion",
                name="type",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("stage", sa.String(length=100), nullable=False),
        sa.Column("close_date", sa.Date(), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum(
                "open",
                "won",
                "lost",
                name="outcome",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("account_source", sa.String(length=63), nullable=True),
        sa.Column("account_external_id", sa.String(length=255), nullable=True),
        sa.Column("email_domain", sa.String(length=253), nullable=True),
        sa.Column(
            "resolution",
            sa.Enum(
                "origin",
                "explicit",
                "external_id",
                "email_domain",
                name="resolution",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("source", sa.String(length=63), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_opportunities_amount_not_negative")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_opportunities_account_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opportunities")),
        sa.UniqueConstraint(
            "source", "external_id", name=op.f("uq_opportunities_source_external_id")
        ),
    )
    op.create_index(
        op.f("ix_opportunities_account_id"), "opportunities", ["account_id"], unique=False
    )

    op.create_table(
        "survey_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "survey",
            sa.Enum(
                "nps", "csat", name="survey", native_enum=False, create_constraint=True, length=32
            ),
            nullable=False,
        ),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.String(length=10000), nullable=True),
        sa.Column("respondent_email", sa.String(length=320), nullable=True),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("account_source", sa.String(length=63), nullable=True),
        sa.Column("account_external_id", sa.String(length=255), nullable=True),
        sa.Column("email_domain", sa.String(length=253), nullable=True),
        sa.Column(
            "resolution",
            sa.Enum(
                "origin",
                "explicit",
                "external_id",
                "email_domain",
                name="resolution",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("source", sa.String(length=63), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "score >= 0 AND score <= 10", name=op.f("ck_survey_responses_score_in_range")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_survey_responses_account_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_responses")),
        sa.UniqueConstraint(
            "source", "external_id", name=op.f("uq_survey_responses_source_external_id")
        ),
    )
    op.create_index(
        op.f("ix_survey_responses_account_id"), "survey_responses", ["account_id"], unique=False
    )
    op.create_index(
        op.f("ix_survey_responses_account_id_responded_at"),
        "survey_responses",
        ["account_id", "responded_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_survey_responses_email_domain"), "survey_responses", ["email_domain"], unique=False
    )

    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("requester_email", sa.String(length=320), nullable=True),
        sa.Column(
            "priority",
            sa.Enum(
                "p1",
                "p2",
                "p3",
                "p4",
                name="priority",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "new",
                "open",
                "pending",
                "on_hold",
                "solved",
                "closed",
                name="status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "channel",
            sa.Enum(
                "email",
                "web",
                "chat",
                "phone",
                "api",
                "other",
                name="channel",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_response_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("solved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "satisfaction",
            sa.Enum(
                "good",
                "bad",
                name="satisfaction",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("account_source", sa.String(length=63), nullable=True),
        sa.Column("account_external_id", sa.String(length=255), nullable=True),
        sa.Column("email_domain", sa.String(length=253), nullable=True),
        sa.Column(
            "resolution",
            sa.Enum(
                "origin",
                "explicit",
                "external_id",
                "email_domain",
                name="resolution",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("source", sa.String(length=63), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_tickets_account_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
        sa.UniqueConstraint("source", "external_id", name=op.f("uq_tickets_source_external_id")),
    )
    op.create_index(op.f("ix_tickets_account_id"), "tickets", ["account_id"], unique=False)
    op.create_index(
        op.f("ix_tickets_account_id_opened_at"),
        "tickets",
        ["account_id", "opened_at"],
        unique=False,
    )
    op.create_index(op.f("ix_tickets_email_domain"), "tickets", ["email_domain"], unique=False)

    op.create_table(
        "usage_daily",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("active_users", sa.Integer(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "active_users >= 0 AND events >= 0", name=op.f("ck_usage_daily_counts_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_usage_daily_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "day", name=op.f("pk_usage_daily")),
    )
    op.create_table(
        "usage_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "type",
            sa.Enum(
                "track",
                "identify",
                "group",
                "page",
                "screen",
                name="type",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("event", sa.String(length=255), nullable=True),
        sa.Column("user_id", sa.String(length=255), nullable=True),
        sa.Column("anonymous_id", sa.String(length=255), nullable=True),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("account_source", sa.String(length=63), nullable=True),
        sa.Column("account_external_id", sa.String(length=255), nullable=True),
        sa.Column("email_domain", sa.String(length=253), nullable=True),
        sa.Column(
            "resolution",
            sa.Enum(
                "origin",
                "explicit",
                "external_id",
                "email_domain",
                name="resolution",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("source", sa.String(length=63), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_usage_events_account_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_events")),
        sa.UniqueConstraint(
            "source", "external_id", name=op.f("uq_usage_events_source_external_id")
        ),
    )
    op.create_index(
        op.f("ix_usage_events_account_id"), "usage_events", ["account_id"], unique=False
    )
    op.create_index(
        op.f("ix_usage_events_account_id_timestamp"),
        "usage_events",
        ["account_id", "timestamp"],
        unique=False,
    )

    op.create_table(
        "usage_feature_daily",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("feature", sa.String(length=255), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("users", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "users >= 0 AND events >= 0", name=op.f("ck_usage_feature_daily_counts_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_usage_feature_daily_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "account_id", "day", "feature", name=op.f("pk_usage_feature_daily")
        ),
    )


def downgrade() -> None:
    op.drop_table("usage_feature_daily")
    op.drop_index(op.f("ix_usage_events_account_id_timestamp"), table_name="usage_events")
    op.drop_index(op.f("ix_usage_events_account_id"), table_name="usage_events")

    op.drop_table("usage_events")
    op.drop_table("usage_daily")
    op.drop_index(op.f("ix_tickets_email_domain"), table_name="tickets")
    op.drop_index(op.f("ix_tickets_account_id_opened_at"), table_name="tickets")
    op.drop_index(op.f("ix_tickets_account_id"), table_name="tickets")

    op.drop_table("tickets")
    op.drop_index(op.f("ix_survey_responses_email_domain"), table_name="survey_responses")
    op.drop_index(
        op.f("ix_survey_responses_account_id_responded_at"), table_name="survey_responses"
    )
    op.drop_index(op.f("ix_survey_responses_account_id"), table_name="survey_responses")

    op.drop_table("survey_responses")
    op.drop_index(op.f("ix_opportunities_account_id"), table_name="opportunities")

    op.drop_table("opportunities")
    op.drop_index(op.f("ix_contracts_end_date"), table_name="contracts")
    op.drop_index(op.f("ix_contracts_account_id"), table_name="contracts")

    op.drop_table("contracts")
    op.drop_index(op.f("ix_contacts_email_domain"), table_name="contacts")
    op.drop_index(op.f("ix_contacts_account_id"), table_name="contacts")

    op.drop_table("contacts")
    op.drop_index(op.f("ix_account_identities_account_id"), table_name="account_identities")

    op.drop_table("account_identities")
    op.drop_index(op.f("ix_outbox_events_account_id_id"), table_name="outbox_events")

    op.drop_table("outbox_events")
    op.drop_index(op.f("ix_accounts_source_parent_external_id"), table_name="accounts")
    op.drop_index(op.f("ix_accounts_renewal_date"), table_name="accounts")
    op.drop_index(op.f("ix_accounts_parent_id"), table_name="accounts")
    op.drop_index(op.f("ix_accounts_owner"), table_name="accounts")
    op.drop_index(op.f("ix_accounts_domain"), table_name="accounts")

    op.drop_table("accounts")
