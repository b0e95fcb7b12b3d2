"""The typed records that cross the plugin boundary.

Connectors yield these, the store writes them. Each record keeps the ``(source, external_id)`` it
came with, so that writing it again updates it instead of duplicating it. Records that belong to
an account say which one through an :class:`AccountRef` (the account's id in some source) or,
failing that, through an e-mail address whose domain is an account's primary domain.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import ClassVar, Self

from pydantic import BaseModel, ConfigDict, EmailStr, Field, JsonValue, model_validator

from cs_core._enums import (
    ContactStatus,
    ContractStatus,
    LifecycleStage,
    OnboardingMilestone,
    OpportunityOutcome,
    OpportunityType,
    RenewalTrack,
    Segment,
    SurveyKind,
    TicketChannel,
    TicketPriority,
    TicketSatisfaction,
    TicketStatus,
    UsageEventType,
)
from cs_core._types import (
    CurrencyCode,
    Domain,
    ExternalId,
    Money,
    NonNegativeInt,
    SourceName,
    UtcDatetime,
)

__all__ = [
    "AccountOwnedRecord",
    "AccountRecord",
    "AccountRef",
    "ContactRecord",
    "ContractRecord",
    "MilestoneRecord",
    "OpportunityRecord",
    "ProductLine",
    "Record",
    "SurveyResponseRecord",
    "TicketRecord",
    "UsageEventRecord",
]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class AccountRef(_Model):
    """An account as some source knows it."""

    source: SourceName
    external_id: ExternalId

    def __str__(self) -> str:
        return f"{self.source}:{self.external_id}"


class Record(_Model):
    """Anything that comes from a source: identified there by ``external_id``."""

    kind: ClassVar[str] = "record"
    """What error messages call this kind of record."""
    source: SourceName
    external_id: ExternalId

    @property
    def label(self) -> str:
        """How error messages name this record: ``account salesforce:001A``."""
        return f"{self.kind} {self.source}:{self.external_id}"


class AccountRecord(Record):
    """A customer account. ``arr`` is annual recurring revenue in ``currency``."""

    kind: ClassVar[str] = "account"
    name: str = Field(min_length=1, max_length=255)
    domain: Domain | None = None
    segment: Segment
    owner: str | None = Field(default=None, max_length=255, description="The CSM who owns it.")
    arr: Money | None = None
    currency: CurrencyCode = "USD"
    lifecycle_stage: LifecycleStage = LifecycleStage.ONBOARDING
    contract_start: date | None = None
    contract_end: date | None = None
    renewal_date: date | None = None
    licensed_seats: NonNegativeInt | None = None
    usage_limits: dict[str, NonNegativeInt] = Field(default_factory=dict)
    parent_external_id: ExternalId | None = Field(
        default=None, description="The parent account's external id in the same source."
    )
    same_as: AccountRef | None = Field(
        default=None,
        description="An account already known from another source that this record is; "
        "the explicit link of identity resolution.",
    )

    @property
    def mrr(self) -> Decimal | None:
        """Monthly recurring revenue: ARR over twelve, to the cent."""
        return None if self.arr is None else (self.arr / 12).quantize(Decimal("0.01"))

    @model_validator(mode="after")
    def _check_consistency(self) -> Self:
        if (
            self.contract_start is not None
            and self.contract_end is not None
            and self.contract_end < self.contract_start
        ):
            raise ValueError("contract_end is before contract_start")
        if self.parent_external_id == self.external_id:
            raise ValueError("parent_external_id names the account itself")
        if self.same_as is not None and self.same_as.source == self.source:
            raise ValueError("same_as must name an account of another source")
        return self


class AccountOwnedRecord(Record):
    """A record that belongs to one account.

    ``account_external_id`` is the account's id in ``account_source`` (default: this record's
    own source). Without it, the account is found by the domain of the record's e-mail address.
    """

    account_external_id: ExternalId | None = None
    account_source: SourceName | None = None

    @property
    def account_ref(self) -> AccountRef | None:
        """The account this record names, if it names one."""
        if self.account_external_id is None:
            return None
        return AccountRef(
            source=self.account_source or self.source, external_id=self.account_external_id
        )

    @property
    def resolution_email(self) -> str | None:
        """The e-mail address whose domain identifies the account when no reference is given."""
        return None

    @model_validator(mode="after")
    def _check_account_source(self) -> Self:
        if self.account_source is not None and self.account_external_id is None:
            raise ValueError("account_source is set but account_external_id is missing")
        return self


class ContactRecord(AccountOwnedRecord):
    """A person at a customer."""

    kind: ClassVar[str] = "contact"
    email: EmailStr
    name: str | None = Field(default=None, max_length=255)
    title: str | None = Field(default=None, max_length=255)
    is_champion: bool = False
    is_executive_sponsor: bool = False
    is_admin: bool = False
    status: ContactStatus = ContactStatus.ACTIVE
    last_engaged_at: UtcDatetime | None = None

    @property
    def resolution_email(self) -> str | None:
        return self.email


class ProductLine(_Model):
    """One product on a contract."""

    name: str = Field(min_length=1, max_length=255)
    seats: NonNegativeInt | None = None


class ContractRecord(AccountOwnedRecord):
    """A contract or subscription; its end is the renewal date."""

    kind: ClassVar[str] = "contract"
    start_date: date
    end_date: date
    arr: Money
    currency: CurrencyCode = "USD"
    status: ContractStatus = ContractStatus.ACTIVE
    auto_renew: bool = False
    renewal_track: RenewalTrack = RenewalTrack.STANDARD
    products: tuple[ProductLine, ...] = ()
    seats: NonNegativeInt | None = None

    @model_validator(mode="after")
    def _check_dates(self) -> Self:
        if self.end_date <= self.start_date:
            raise ValueError("end_date must be after start_date")
        return self


class OpportunityRecord(AccountOwnedRecord):
    """A deal: a new logo, a renewal or an expansion."""

    kind: ClassVar[str] = "opportunity"
    name: str = Field(min_length=1, max_length=255)
    type: OpportunityType
    amount: Money
    currency: CurrencyCode = "USD"
    stage: str = Field(min_length=1, max_length=100)
    close_date: date
    outcome: OpportunityOutcome = OpportunityOutcome.OPEN


class TicketRecord(AccountOwnedRecord):
    """A support ticket. ``opened_at`` is when the customer created it."""

    kind: ClassVar[str] = "ticket"
    subject: str = Field(default="", max_length=500)
    requester_email: EmailStr | None = None
    priority: TicketPriority
    status: TicketStatus
    channel: TicketChannel = TicketChannel.OTHER
    opened_at: UtcDatetime
    first_response_at: UtcDatetime | None = None
    solved_at: UtcDatetime | None = None
    satisfaction: TicketSatisfaction | None = None
    replies: NonNegativeInt | None = None
    """Agent replies the ticket took (Zendesk's ``ticket_metrics.replies``): one reply that
    solved it is a first-contact resolution."""

    @property
    def resolution_email(self) -> str | None:
        return self.requester_email

    @model_validator(mode="after")
    def _check_times(self) -> Self:
        if self.first_response_at is not None and self.first_response_at < self.opened_at:
            raise ValueError("first_response_at is before opened_at")
        if self.solved_at is not None and self.solved_at < self.opened_at:
            raise ValueError("solved_at is before opened_at")
        return self


class UsageEventRecord(AccountOwnedRecord):
    """A product-usage event in the Segment spec's shape.

    ``external_id`` is the event's ``messageId``: a source that sends the same message twice
    stores it once. ``account_external_id`` is the Segment ``groupId``.
    """

    kind: ClassVar[str] = "usage event"
    type: UsageEventType = UsageEventType.TRACK
    event: str | None = Field(default=None, max_length=255)
    user_id: str | None = Field(default=None, max_length=255)
    anonymous_id: str | None = Field(default=None, max_length=255)
    timestamp: UtcDatetime
    properties: dict[str, JsonValue] = Field(default_factory=dict)

    @property
    def message_id(self) -> str:
        """The Segment ``messageId``; the same value as ``external_id``."""
        return self.external_id

    @model_validator(mode="after")
    def _check_shape(self) -> Self:
        if self.type is UsageEventType.TRACK and not self.event:
            raise ValueError("a track event needs an event name")
        if self.user_id is None and self.anonymous_id is None:
            raise ValueError("an event needs user_id or anonymous_id")
        return self


class SurveyResponseRecord(AccountOwnedRecord):
    """An answer to an NPS (0-10) or CSAT (1-5) survey."""

    kind: ClassVar[str] = "survey response"
    survey: SurveyKind
    score: int
    comment: str | None = Field(default=None, max_length=10_000)
    respondent_email: EmailStr | None = None
    responded_at: UtcDatetime

    @property
    def resolution_email(self) -> str | None:
        return self.respondent_email

    @model_validator(mode="after")
    def _check_score(self) -> Self:
        low, high = (0, 10) if self.survey is SurveyKind.NPS else (1, 5)
        if not low <= self.score <= high:
            raise ValueError(f"a {self.survey.value.upper()} score is from {low} to {high}")
        return self


class MilestoneRecord(AccountOwnedRecord):
    """An onboarding milestone an account reached, as a CRM or project tool records it.

    Kickoff and training can only come from such records; technical setup, first value and
    handoff are also detected from usage and scores.
    """

    kind: ClassVar[str] = "milestone"
    milestone: OnboardingMilestone
    completed_at: UtcDatetime
    note: str | None = Field(default=None, max_length=2000)
