"""The store's schema as SQLAlchemy 2 typed ORM models.

The Alembic migrations in ``cs_core/migrations`` build exactly this schema; a test compares them.
Tables that hold source records share their key, ``(source, external_id)``, and the columns that
tie them to an account: the reference the source gave, the account it resolved to, and how.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from cs_core._columns import BigId, Cents, UTCDateTime, enum_column
from cs_core._enums import (
    ContactStatus,
    ContractStatus,
    LifecycleStage,
    OnboardingMilestone,
    OpportunityOutcome,
    OpportunityType,
    RenewalTrack,
    ResolutionMethod,
    Segment,
    SurveyKind,
    TaskPriority,
    TaskStatus,
    TaskType,
    TicketChannel,
    TicketPriority,
    TicketSatisfaction,
    TicketStatus,
    UsageEventType,
)

__all__ = [
    "Account",
    "AccountFlag",
    "AccountIdentity",
    "AccountLifecycle",
    "AccountToRescore",
    "Base",
    "ChurnModelRow",
    "Contact",
    "Contract",
    "HealthHistory",
    "HealthOverride",
    "HealthScoreRow",
    "Milestone",
    "MilestoneStatus",
    "Opportunity",
    "OutboxEvent",
    "PlaybookAction",
    "PlaybookCursor",
    "PlaybookEpisode",
    "PlaybookFiring",
    "PlaybookRun",
    "ProductFeature",
    "QuarantinedRecord",
    "ScoringRun",
    "Signal",
    "SurveyResponse",
    "SyncRun",
    "SyncRunStream",
    "SyncState",
    "Task",
    "Ticket",
    "TicketEscalation",
    "UsageDaily",
    "UsageEvent",
    "UsageFeatureDaily",
]

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every table in the store."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads it as a class attribute
        datetime: UTCDateTime(),
        Decimal: Cents(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


class _SourceRecord:
    """Columns of every table that stores records read from a source."""

    source: Mapped[str] = mapped_column(String(63))
    external_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class _AccountOwned(_SourceRecord):
    """Columns that tie a record to its account, keeping the evidence for audit."""

    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), index=True
    )
    account_source: Mapped[str | None] = mapped_column(String(63))
    account_external_id: Mapped[str | None] = mapped_column(String(255))
    email_domain: Mapped[str | None] = mapped_column(String(253))
    resolution: Mapped[ResolutionMethod | None] = mapped_column(
        enum_column(ResolutionMethod, "resolution")
    )


class Account(_SourceRecord, Base):
    """A customer account: the unit everything else is scored, forecast and acted on by."""

    __tablename__ = "accounts"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index(None, "source", "parent_external_id"),
        CheckConstraint("arr >= 0", name="arr_not_negative"),
        CheckConstraint("licensed_seats >= 0", name="seats_not_negative"),
        CheckConstraint("contract_end >= contract_start", name="contract_dates_ordered"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    domain: Mapped[str | None] = mapped_column(String(253), index=True)
    segment: Mapped[Segment] = mapped_column(enum_column(Segment, "segment"))
    owner: Mapped[str | None] = mapped_column(String(255), index=True)
    arr: Mapped[Decimal | None]
    currency: Mapped[str] = mapped_column(String(3))
    lifecycle_stage: Mapped[LifecycleStage] = mapped_column(
        enum_column(LifecycleStage, "lifecycle_stage")
    )
    contract_start: Mapped[date | None] = mapped_column(Date)
    contract_end: Mapped[date | None] = mapped_column(Date)
    renewal_date: Mapped[date | None] = mapped_column(Date, index=True)
    licensed_seats: Mapped[int | None] = mapped_column(Integer)
    usage_limits: Mapped[dict[str, Any]]
    parent_external_id: Mapped[str | None] = mapped_column(String(255))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), index=True
    )


class AccountIdentity(Base):
    """Which account a source's identifier stands for, how that was decided, and when."""

    __tablename__ = "account_identities"

    source: Mapped[str] = mapped_column(String(63), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    method: Mapped[ResolutionMethod] = mapped_column(enum_column(ResolutionMethod, "method"))
    evidence: Mapped[str | None] = mapped_column(String(500))
    resolved_at: Mapped[datetime]


class Contact(_AccountOwned, Base):
    """A person at a customer, with the roles that matter to the relationship."""

    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("source", "external_id"), Index(None, "email_domain"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str | None] = mapped_column(String(255))
    title: Mapped[str | None] = mapped_column(String(255))
    is_champion: Mapped[bool] = mapped_column(Boolean)
    is_executive_sponsor: Mapped[bool] = mapped_column(Boolean)
    is_admin: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[ContactStatus] = mapped_column(enum_column(ContactStatus, "status"))
    last_engaged_at: Mapped[datetime | None]


class Contract(_AccountOwned, Base):
    """A contract or subscription."""

    __tablename__ = "contracts"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index(None, "end_date"),
        CheckConstraint("arr >= 0", name="arr_not_negative"),
        CheckConstraint("end_date > start_date", name="dates_ordered"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    arr: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[ContractStatus] = mapped_column(enum_column(ContractStatus, "status"))
    auto_renew: Mapped[bool] = mapped_column(Boolean)
    renewal_track: Mapped[RenewalTrack] = mapped_column(enum_column(RenewalTrack, "renewal_track"))
    products: Mapped[list[Any]]
    seats: Mapped[int | None] = mapped_column(Integer)


class Opportunity(_AccountOwned, Base):
    """A deal: new business, renewal or expansion."""

    __tablename__ = "opportunities"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[OpportunityType] = mapped_column(enum_column(OpportunityType, "type"))
    amount: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))
    stage: Mapped[str] = mapped_column(String(100))
    close_date: Mapped[date] = mapped_column(Date)
    outcome: Mapped[OpportunityOutcome] = mapped_column(enum_column(OpportunityOutcome, "outcome"))


class Ticket(_AccountOwned, Base):
    """A support ticket, with the times that SLAs are measured on."""

    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index(None, "account_id", "opened_at"),
        Index(None, "email_domain"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject: Mapped[str] = mapped_column(String(500))
    requester_email: Mapped[str | None] = mapped_column(String(320))
    priority: Mapped[TicketPriority] = mapped_column(enum_column(TicketPriority, "priority"))
    status: Mapped[TicketStatus] = mapped_column(enum_column(TicketStatus, "status"))
    channel: Mapped[TicketChannel] = mapped_column(enum_column(TicketChannel, "channel"))
    opened_at: Mapped[datetime]
    first_response_at: Mapped[datetime | None]
    solved_at: Mapped[datetime | None]
    satisfaction: Mapped[TicketSatisfaction | None] = mapped_column(
        enum_column(TicketSatisfaction, "satisfaction")
    )
    replies: Mapped[int | None] = mapped_column(Integer)


class UsageEvent(_AccountOwned, Base):
    """A raw product-usage event; ``external_id`` is its Segment ``messageId``."""

    __tablename__ = "usage_events"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index(None, "account_id", "timestamp"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    type: Mapped[UsageEventType] = mapped_column(enum_column(UsageEventType, "type"))
    event: Mapped[str | None] = mapped_column(String(255))
    user_id: Mapped[str | None] = mapped_column(String(255))
    anonymous_id: Mapped[str | None] = mapped_column(String(255))
    timestamp: Mapped[datetime]
    properties: Mapped[dict[str, Any]]


class SurveyResponse(_AccountOwned, Base):
    """An NPS or CSAT answer."""

    __tablename__ = "survey_responses"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index(None, "account_id", "responded_at"),
        Index(None, "email_domain"),
        CheckConstraint("score >= 0 AND score <= 10", name="score_in_range"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    survey: Mapped[SurveyKind] = mapped_column(enum_column(SurveyKind, "survey"))
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(String(10_000))
    respondent_email: Mapped[str | None] = mapped_column(String(320))
    responded_at: Mapped[datetime]


class Milestone(_AccountOwned, Base):
    """An onboarding milestone reached, as a source recorded it."""

    __tablename__ = "milestones"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index(None, "account_id", "milestone"),
        Index(None, "email_domain"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    milestone: Mapped[OnboardingMilestone] = mapped_column(
        enum_column(OnboardingMilestone, "milestone")
    )
    completed_at: Mapped[datetime]
    note: Mapped[str | None] = mapped_column(String(2000))


class UsageDaily(Base):
    """Per account and UTC day: distinct active users and events, the rollup scoring reads."""

    __tablename__ = "usage_daily"
    __table_args__ = (
        CheckConstraint("active_users >= 0 AND events >= 0", name="counts_not_negative"),
    )

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    active_users: Mapped[int] = mapped_column(Integer)
    events: Mapped[int] = mapped_column(Integer)


class UsageFeatureDaily(Base):
    """Per account, UTC day and feature (event name): events and distinct users."""

    __tablename__ = "usage_feature_daily"
    __table_args__ = (CheckConstraint("users >= 0 AND events >= 0", name="counts_not_negative"),)

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    feature: Mapped[str] = mapped_column(String(255), primary_key=True)
    events: Mapped[int] = mapped_column(Integer)
    users: Mapped[int] = mapped_column(Integer)


class OutboxEvent(Base):
    """An append-only domain event; ``id`` is the cursor subscribers resume from."""

    __tablename__ = "outbox_events"
    __table_args__ = (Index(None, "account_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(100))
    account_id: Mapped[int | None] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class ScoringRun(Base):
    """One pass of scoring over the accounts: when, as of when, and what it changed."""

    __tablename__ = "scoring_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    as_of: Mapped[datetime]
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    accounts: Mapped[int] = mapped_column(Integer)
    changed: Mapped[int] = mapped_column(Integer)
    events: Mapped[int] = mapped_column(Integer)


class HealthScoreRow(Base):
    """Each account's latest computed health: the score, and the points behind it."""

    __tablename__ = "health_scores"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    scorecard_id: Mapped[str] = mapped_column(String(63))
    scorecard_version: Mapped[int] = mapped_column(Integer)
    scorecard_fingerprint: Mapped[str] = mapped_column(String(16))
    score: Mapped[float | None] = mapped_column(Float)
    tier: Mapped[str | None] = mapped_column(String(32), index=True)
    measures: Mapped[dict[str, Any]]
    """Per measure name: ``[metric value, points]`` (``null`` where missing or skipped)."""
    as_of: Mapped[datetime]
    """The as-of time of the run that last changed this score (unchanged scores keep theirs)."""
    run_id: Mapped[int] = mapped_column(ForeignKey("scoring_runs.id"))


class HealthHistory(Base):
    """Append-only: one row each time an account's health changed, and why."""

    __tablename__ = "health_history"
    __table_args__ = (Index(None, "account_id", "as_of"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    run_id: Mapped[int] = mapped_column(ForeignKey("scoring_runs.id"), index=True)
    as_of: Mapped[datetime]
    scorecard_id: Mapped[str] = mapped_column(String(63))
    scorecard_version: Mapped[int] = mapped_column(Integer)
    scorecard_fingerprint: Mapped[str] = mapped_column(String(16))
    score: Mapped[float | None] = mapped_column(Float)
    tier: Mapped[str | None] = mapped_column(String(32))
    previous_score: Mapped[float | None] = mapped_column(Float)
    previous_tier: Mapped[str | None] = mapped_column(String(32))
    cause: Mapped[str] = mapped_column(String(16))
    """``first``, ``customer`` (the data moved) or ``scorecard`` (the model changed)."""
    measures: Mapped[dict[str, Any]]


class HealthOverride(Base):
    """A person's judgement replacing the computed score: who, why, and until when."""

    __tablename__ = "health_overrides"
    __table_args__ = (
        Index(None, "account_id", "created_at"),
        CheckConstraint("score >= 0 AND score <= 100", name="score_in_range"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    scorecard_id: Mapped[str] = mapped_column(String(63))
    """The scorecard of the computed score it overrode: override rates are per scorecard."""
    computed_score: Mapped[float | None] = mapped_column(Float)
    score: Mapped[float] = mapped_column(Float)
    tier: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(2000))
    author: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    cleared_at: Mapped[datetime | None]
    cleared_by: Mapped[str | None] = mapped_column(String(255))


class Signal(Base):
    """A predictive signal about an account: what fired, how badly, the numbers, and when."""

    __tablename__ = "signals"
    __table_args__ = (Index(None, "account_id", "kind", "resolved_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(63))
    severity: Mapped[str] = mapped_column(String(16))
    evidence: Mapped[dict[str, Any]]
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None] = mapped_column(index=True)


class TicketEscalation(Base):
    """A ticket's move up the escalation path, stamped with when the breach behind it happened."""

    __tablename__ = "ticket_escalations"

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    level: Mapped[int] = mapped_column(Integer, primary_key=True)
    level_name: Mapped[str] = mapped_column(String(63))
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    reason: Mapped[str] = mapped_column(String(32))
    escalated_at: Mapped[datetime]
    recorded_at: Mapped[datetime]


class AccountLifecycle(Base):
    """An account's lifecycle as last evaluated from the store: stage, onboarding, time to value."""

    __tablename__ = "account_lifecycle"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    stage: Mapped[LifecycleStage] = mapped_column(enum_column(LifecycleStage, "stage"), index=True)
    entered_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(255))
    onboarding_started_on: Mapped[date | None] = mapped_column(Date)
    time_to_value_days: Mapped[int | None] = mapped_column(Integer)
    at_risk: Mapped[bool] = mapped_column(Boolean)
    """An onboarding milestone is overdue."""
    evaluated_at: Mapped[datetime]


class MilestoneStatus(Base):
    """Where an onboarding account stands on one milestone of its track."""

    __tablename__ = "milestone_status"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    milestone: Mapped[OnboardingMilestone] = mapped_column(
        enum_column(OnboardingMilestone, "milestone"), primary_key=True
    )
    due_on: Mapped[date] = mapped_column(Date)
    completed_at: Mapped[datetime | None]
    evidence: Mapped[str | None] = mapped_column(String(255))
    """``recorded by SOURCE`` or what it was detected from."""
    overdue_since: Mapped[date | None] = mapped_column(Date)


class Task(Base):
    """A call to action for a person: a CSM, their manager, renewal ops…"""

    __tablename__ = "tasks"
    __table_args__ = (
        Index(None, "account_id", "status"),
        Index(None, "owner", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    type: Mapped[TaskType] = mapped_column(enum_column(TaskType, "type"))
    title: Mapped[str] = mapped_column(String(500))
    owner_role: Mapped[str] = mapped_column(String(63))
    owner: Mapped[str | None] = mapped_column(String(255))
    """Who holds it: the account's owner for the CSM role, else unassigned within the role."""
    priority: Mapped[TaskPriority] = mapped_column(enum_column(TaskPriority, "priority"))
    status: Mapped[TaskStatus] = mapped_column(enum_column(TaskStatus, "status"))
    due_on: Mapped[date] = mapped_column(Date)
    snoozed_until: Mapped[date | None] = mapped_column(Date)
    escalation_level: Mapped[int] = mapped_column(Integer)
    playbook: Mapped[str | None] = mapped_column(String(63))
    firing_key: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    completed_by: Mapped[str | None] = mapped_column(String(255))


class AccountFlag(Base):
    """A named flag on an account, set by a playbook or a person."""

    __tablename__ = "account_flags"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    flag: Mapped[str] = mapped_column(String(63), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))
    set_by: Mapped[str] = mapped_column(String(255))
    set_at: Mapped[datetime]


class PlaybookRun(Base):
    """One run of the playbook engine: the audit log's entry."""

    __tablename__ = "playbook_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    as_of: Mapped[datetime]
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    playbooks: Mapped[list[Any]]
    fired: Mapped[int] = mapped_column(Integer)
    tasks_created: Mapped[int] = mapped_column(Integer)
    actions_sent: Mapped[int] = mapped_column(Integer)
    actions_failed: Mapped[int] = mapped_column(Integer)


class PlaybookFiring(Base):
    """A playbook fired once for one occurrence of its trigger; the key makes it once only."""

    __tablename__ = "playbook_firings"
    __table_args__ = (Index(None, "playbook", "fired_at"), Index(None, "account_id"))

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    playbook: Mapped[str] = mapped_column(String(63))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    run_id: Mapped[int] = mapped_column(ForeignKey("playbook_runs.id"))
    reason: Mapped[str] = mapped_column(String(500))
    details: Mapped[dict[str, Any]]
    score: Mapped[float | None] = mapped_column(Float)
    """The account's health score when it fired: the baseline of effectiveness."""
    tier: Mapped[str | None] = mapped_column(String(32))
    fired_at: Mapped[datetime]


class PlaybookAction(Base):
    """An action of a firing, with its outcome: done, pending delivery, sent or failed."""

    __tablename__ = "playbook_actions"
    __table_args__ = (Index(None, "status", "next_attempt_at"),)

    firing_key: Mapped[str] = mapped_column(
        ForeignKey("playbook_firings.key", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str | None] = mapped_column(String(63))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(1000))
    """What happened: the task created, the receipt, or the last error."""
    notification: Mapped[dict[str, Any] | None]
    updated_at: Mapped[datetime]


class PlaybookCursor(Base):
    """How far a playbook has read the outbox."""

    __tablename__ = "playbook_cursors"

    playbook: Mapped[str] = mapped_column(String(63), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(BigId)


class PlaybookEpisode(Base):
    """A state trigger holding for an account (a renewal window, usage over entitlement): it
    fires once when the state begins, and again only after it ended and began anew."""

    __tablename__ = "playbook_episodes"

    playbook: Mapped[str] = mapped_column(String(63), primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    occurrence: Mapped[str] = mapped_column(String(127), primary_key=True)
    began_at: Mapped[datetime]


class SyncState(Base):
    """A stream's cursor state, committed with the records it covers."""

    __tablename__ = "sync_state"

    connector: Mapped[str] = mapped_column(String(63), primary_key=True)
    stream: Mapped[str] = mapped_column(String(63), primary_key=True)
    state: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]


class SyncRun(Base):
    """One run of ``cs sync`` for a connector."""

    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connector: Mapped[str] = mapped_column(String(63), index=True)
    full_refresh: Mapped[bool] = mapped_column(Boolean)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16))
    """``running``, ``succeeded``, or ``failed`` when a stream failed."""


class SyncRunStream(Base):
    """What a run did with one stream."""

    __tablename__ = "sync_run_streams"

    run_id: Mapped[int] = mapped_column(
        ForeignKey("sync_runs.id", ondelete="CASCADE"), primary_key=True
    )
    stream: Mapped[str] = mapped_column(String(63), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    records_read: Mapped[int] = mapped_column(Integer)
    records_written: Mapped[int] = mapped_column(Integer)
    records_deleted: Mapped[int] = mapped_column(Integer, server_default="0")
    records_quarantined: Mapped[int] = mapped_column(Integer)
    retries: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(2000))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]


class QuarantinedRecord(Base):
    """A record a source sent that could not be stored: its payload as it came, and why."""

    __tablename__ = "quarantined_records"
    __table_args__ = (UniqueConstraint("connector", "stream", "record_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connector: Mapped[str] = mapped_column(String(63))
    stream: Mapped[str] = mapped_column(String(63))
    record_key: Mapped[str] = mapped_column(String(255))
    """``kind:external_id``, or a hash of the payload when it names no id."""
    kind: Mapped[str] = mapped_column(String(63))
    payload: Mapped[dict[str, Any]]
    reason: Mapped[str] = mapped_column(String(4000))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("sync_runs.id", ondelete="SET NULL"))
    quarantined_at: Mapped[datetime]


class AccountToRescore(Base):
    """An account whose scoring inputs changed since it was last scored.

    Every write path marks the accounts it touches, in its own transaction; an incremental run
    scores exactly these and clears the marks it has served.
    """

    __tablename__ = "accounts_to_rescore"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    changed_at: Mapped[datetime]


class ChurnModelRow(Base):
    """A fitted churn-risk model; the newest one gives the ``churn_risk`` metric."""

    __tablename__ = "churn_models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime]
    horizon_days: Mapped[int] = mapped_column(Integer)
    model: Mapped[dict[str, Any]]
    """Features, their means and scales, coefficients, and how well it fitted."""


class ProductFeature(Base):
    """A feature (usage event name) of the product, and the days it was first and last used.

    Kept up to date by the usage write paths, so that "share of the product's features" needs no
    scan of every account's usage.
    """

    __tablename__ = "product_features"

    feature: Mapped[str] = mapped_column(String(255), primary_key=True)
    first_used: Mapped[date] = mapped_column(Date)
    last_used: Mapped[date] = mapped_column(Date)


class ApiToken(Base):
    """A token for the API: only its SHA-256 is kept; the secret is shown once, at creation."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[Any]]
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
