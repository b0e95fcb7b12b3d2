"""The closed vocabularies of the domain, taken from the seed documents.

Values are lower-case identifiers, stable in the database and on the wire. Parsing is lenient
about case and separators (``"Mid-Market"``, ``"mid market"`` and ``"MID_MARKET"`` all read as
:attr:`Segment.MID_MARKET`) because sources spell them every way.
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import cache
from typing import Self

__all__ = [
    "ContactStatus",
    "ContractStatus",
    "LifecycleStage",
    "OnboardingMilestone",
    "OpportunityOutcome",
    "OpportunityType",
    "RenewalTrack",
    "ResolutionMethod",
    "Segment",
    "SurveyKind",
    "TaskPriority",
    "TaskStatus",
    "TaskType",
    "TicketChannel",
    "TicketPriority",
    "TicketSatisfaction",
    "TicketStatus",
    "UsageEventType",
]

_SEPARATORS = re.compile(r"[\s\-/]+")


class _LenientEnum(StrEnum):
    """A string enum that also accepts its values in any case and with any separator."""

    @classmethod
    def _missing_(cls, value: object) -> Self | None:
        if not isinstance(value, str):
            return None
        return cls._spellings().get(_SEPARATORS.sub("_", value.strip()).lower())

    @classmethod
    @cache
    def _spellings(cls) -> dict[str, Self]:
        """Each member by its value and by its lower-cased name (built once per enum)."""
        return {spelling: member for member in cls
                for spelling in (member.value, member.name.lower())}  # fmt: skip


class Segment(_LenientEnum):
    """Customer segment; it decides the onboarding track and the coverage model."""

    ENTERPRISE = "enterprise"
    MID_MARKET = "mid_market"
    SMB = "smb"
    PLG = "plg"


class LifecycleStage(_LenientEnum):
    """Where an account is in its life with us (SOP-002 stages, plus churned)."""

    ONBOARDING = "onboarding"
    ADOPTION = "adoption"
    SUCCESS = "success"
    EXPANSION = "expansion"
    RENEWAL = "renewal"
    CHURNED = "churned"


class OnboardingMilestone(_LenientEnum):
    """The milestones of every onboarding track (seed 003), in the order they are due."""

    KICKOFF = "kickoff"
    TECHNICAL_SETUP = "technical_setup"
    FIRST_VALUE = "first_value"
    """The first workflow running: the moment time-to-value is measured to."""
    TRAINING = "training"
    HANDOFF = "handoff"
    """The formal handoff to the CSM, with a health baseline."""


class ContactStatus(_LenientEnum):
    """Whether a contact still works at the customer."""

    ACTIVE = "active"
    LEFT_COMPANY = "left_company"


class ContractStatus(_LenientEnum):
    """The state of a contract or subscription."""

    DRAFT = "draft"
    ACTIVE = "active"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    RENEWED = "renewed"


class RenewalTrack(_LenientEnum):
    """How a contract renews (platform-stage renewal tracks)."""

    AUTO = "auto"
    STANDARD = "standard"
    COMPLEX = "complex"
    AT_RISK = "at_risk"


class OpportunityType(_LenientEnum):
    """What an opportunity would bring: a new logo, a renewal, or an expansion."""

    NEW = "new"
    RENEWAL = "renewal"
    EXPANSION = "expansion"


class OpportunityOutcome(_LenientEnum):
    """Open, or closed as won or lost."""

    OPEN = "open"
    WON = "won"
    LOST = "lost"


class TicketPriority(_LenientEnum):
    """Support priority; P1 is the most urgent (SOP-002 SLAs are set per priority)."""

    P1 = "p1"
    P2 = "p2"
    P3 = "p3"
    P4 = "p4"


class TicketStatus(_LenientEnum):
    """The state of a support ticket."""

    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    ON_HOLD = "on_hold"
    SOLVED = "solved"
    CLOSED = "closed"


class TicketChannel(_LenientEnum):
    """How a ticket reached support."""

    EMAIL = "email"
    WEB = "web"
    CHAT = "chat"
    PHONE = "phone"
    API = "api"
    OTHER = "other"


class TicketSatisfaction(_LenientEnum):
    """A ticket's satisfaction rating as helpdesks record it (Zendesk's good/bad)."""

    GOOD = "good"
    BAD = "bad"


class SurveyKind(_LenientEnum):
    """NPS is scored 0-10, CSAT 1-5."""

    NPS = "nps"
    CSAT = "csat"


class UsageEventType(_LenientEnum):
    """The Segment spec's call types."""

    TRACK = "track"
    IDENTIFY = "identify"
    GROUP = "group"
    PAGE = "page"
    SCREEN = "screen"


class ResolutionMethod(_LenientEnum):
    """How a source identity was tied to an account; kept for audit."""

    ORIGIN = "origin"
    """The record created the account."""
    EXPLICIT = "explicit"
    """The record named the account it belongs to (a ``same_as`` link, or a manual link)."""
    EXTERNAL_ID = "external_id"
    """The record referred to an account by an external id already in the identity map."""
    EMAIL_DOMAIN = "email_domain"
    """The record's domain or e-mail domain matched exactly one account's primary domain."""


class TaskType(_LenientEnum):
    """What a task (a call to action) is about."""

    RISK = "risk"
    OPPORTUNITY = "opportunity"
    LIFECYCLE = "lifecycle"


class TaskPriority(_LenientEnum):
    """How soon a task needs attention, lowest first."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    URGENT = "urgent"


class TaskStatus(_LenientEnum):
    """Where a task stands."""

    OPEN = "open"
    SNOOZED = "snoozed"
    DONE = "done"
