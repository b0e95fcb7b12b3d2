"""The parts of the 360° view beyond health: lifecycle, renewal, support tickets and usage.

Each is built from what a loader read for the whole page (see ``_loaders``), judged at the
request's moment, so that every account of a response is seen at the same time.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import strawberry

from cs_core import (
    LifecycleStage,
    MilestoneStatus,
    OnboardingMilestone,
    RenewalTrack,
    TicketChannel,
    TicketPriority,
    TicketStatus,
    UpcomingRenewal,
)
from cs_core import RenewalStep as RenewalStepPolicy
from cs_core import TicketSla as TicketSlaValue
from cs_server._view_queries import LifecycleRows, OpenTicket, UsageWindow

__all__ = ["Lifecycle", "Renewal", "Ticket", "UsageSummary"]


@strawberry.type(description="An onboarding milestone on the account's track, and how it went.")
class OnboardingMilestoneProgress:
    milestone: OnboardingMilestone
    due_on: date = strawberry.field(
        description="The day it is due: the track's days after the account became a customer."
    )
    completed_at: datetime | None
    evidence: str | None = strawberry.field(
        description="What showed it reached: a source's record, or what the data showed."
    )
    overdue: bool = strawberry.field(description="Not completed, and due before today.")
    overdue_since: date | None = strawberry.field(
        description="The day it was first found overdue; kept when it is completed late."
    )

    @classmethod
    def of(cls, row: MilestoneStatus, today: date) -> OnboardingMilestoneProgress:
        return cls(milestone=row.milestone, due_on=row.due_on, completed_at=row.completed_at,
                   evidence=row.evidence, overdue=row.completed_at is None and row.due_on < today,
                   overdue_since=row.overdue_since)  # fmt: skip


@strawberry.type(
    description="Where the account is in its lifecycle, as the last evaluation (`cs lifecycle`) "
    "found it from its contracts, deals, milestones and usage."
)
class Lifecycle:
    stage: LifecycleStage
    entered_at: datetime = strawberry.field(
        description="When it entered this stage: the evaluation that first found it there."
    )
    reason: str = strawberry.field(description="Why the stage rules put it in this stage.")
    evaluated_at: datetime
    onboarding_started_on: date | None = strawberry.field(
        description="The day it became a customer, once its onboarding was tracked."
    )
    onboarding_at_risk: bool = strawberry.field(
        description="In onboarding with a milestone overdue, at the last evaluation."
    )
    time_to_value_days: int | None = strawberry.field(
        description="Days from becoming a customer to its first value milestone."
    )
    milestones: list[OnboardingMilestoneProgress] = strawberry.field(
        description="Its onboarding milestones, by due day (none if its onboarding was never "
        "tracked)."
    )

    @classmethod
    def of(cls, rows: LifecycleRows, today: date) -> Lifecycle | None:
        evaluation = rows.evaluation
        if evaluation is None:
            return None
        return cls(
            stage=evaluation.stage,
            entered_at=evaluation.entered_at,
            reason=evaluation.reason,
            evaluated_at=evaluation.evaluated_at,
            onboarding_started_on=evaluation.onboarding_started_on,
            onboarding_at_risk=evaluation.at_risk,
            time_to_value_days=evaluation.time_to_value_days,
            milestones=[OnboardingMilestoneProgress.of(row, today) for row in rows.milestones],
        )


@strawberry.type(description="A step of a renewal track, dated for one renewal.")
class RenewalStep:
    step: str
    owner: str = strawberry.field(description="The role that does it.")
    action: str
    due_on: date
    closes_on: date = strawberry.field(
        description="Its last day: the end of its window, else the day it is due."
    )

    @classmethod
    def of(cls, step: RenewalStepPolicy | None, renewal: date) -> RenewalStep | None:
        if step is None:
            return None
        return cls(step=step.step, owner=step.owner, action=step.action,
                   due_on=step.due(renewal), closes_on=step.closes(renewal))  # fmt: skip


@strawberry.type(
    description="A contract coming up for renewal: where it is on its track and how likely it "
    "is to renew, forecast now as `cs renewals` does."
)
class Renewal:
    renewal_date: date = strawberry.field(description="The day the contract ends.")
    days_to_renewal: int
    track: RenewalTrack
    arr: Decimal = strawberry.field(description="The renewing contract's ARR.")
    tier: str | None = strawberry.field(
        description="The health tier the forecast used: an override in force, else the score."
    )
    open_risk_signals: int = strawberry.field(
        description="Risk signals open now (expansion signals are none), each lowering the "
        "likelihood."
    )
    likelihood: float = strawberry.field(
        description="The chance it renews, 0 to 1: the tier's base chance less a penalty per "
        "open risk signal (the renewal policies)."
    )
    expected_arr: Decimal = strawberry.field(description="ARR times likelihood.")
    current_step: RenewalStep | None = strawberry.field(
        description="The latest step of the track due by today; null before the track opens."
    )
    next_step: RenewalStep | None

    @classmethod
    def of(cls, renewal: UpcomingRenewal) -> Renewal:
        day = renewal.renewal_date
        return cls(renewal_date=day, days_to_renewal=renewal.days_to_renewal,
                   track=renewal.track, arr=renewal.arr, tier=renewal.tier,
                   open_risk_signals=sum(renewal.open_signals.values()),
                   likelihood=renewal.likelihood, expected_arr=renewal.expected_arr,
                   current_step=RenewalStep.of(renewal.current_step, day),
                   next_step=RenewalStep.of(renewal.next_step, day))  # fmt: skip


@strawberry.type(description="One move of a ticket up the escalation path.")
class Escalation:
    level: int
    level_name: str
    reason: str = strawberry.field(description="response_breach, resolution_breach or executive.")
    at: datetime = strawberry.field(description="The moment of the breach that caused it.")


@strawberry.type(description="A ticket measured against its priority's SLA targets, now.")
class TicketSla:
    response_due: datetime
    resolution_due: datetime
    response_breached: bool = strawberry.field(
        description="The first response came after its target, or has not come and the target "
        "has passed."
    )
    resolution_breached: bool = strawberry.field(
        description="Unsolved and its resolution target has passed."
    )
    escalation_level: int = strawberry.field(
        description="The level the breaches moved it to (1: where every ticket starts)."
    )
    escalations: list[Escalation]

    @classmethod
    def of(cls, sla: TicketSlaValue) -> TicketSla:
        return cls(response_due=sla.response_due, resolution_due=sla.resolution_due,
                   response_breached=sla.response_breached,
                   resolution_breached=sla.resolution_breached, escalation_level=sla.level,
                   escalations=[Escalation(level=move.level, level_name=move.level_name,
                                           reason=move.reason, at=move.at)
                                for move in sla.escalations])  # fmt: skip


@strawberry.type(description="A support ticket not yet solved or closed.")
class Ticket:
    source: str
    external_id: str
    subject: str
    priority: TicketPriority
    status: TicketStatus
    channel: TicketChannel
    opened_at: datetime
    first_response_at: datetime | None
    sla: TicketSla

    @classmethod
    def of(cls, ticket: OpenTicket) -> Ticket:
        row = ticket.row
        return cls(source=row.source, external_id=row.external_id, subject=row.subject,
                   priority=row.priority, status=row.status, channel=row.channel,
                   opened_at=row.opened_at, first_response_at=row.first_response_at,
                   sla=TicketSla.of(ticket.sla))  # fmt: skip


@strawberry.type(
    description="Product usage over the last `days` days up to today, from the daily rollups, "
    "and against the `days` days before them."
)
class UsageSummary:
    days: int
    active_days: int = strawberry.field(description="Days with at least one active user.")
    peak_active_users: int = strawberry.field(
        description="The most distinct active users of one day."
    )
    average_daily_active_users: float = strawberry.field(
        description="Daily active users averaged over every day of the window (a day without "
        "usage counts as 0)."
    )
    events: int
    previous_events: int = strawberry.field(description="Events in the window before.")
    events_change: float | None = strawberry.field(
        description="The trend: events over the window before, less 1 (+0.25: a quarter more); "
        "null when the window before had none."
    )
    last_active_on: date | None = strawberry.field(
        description="The last day with an active user, in or before the window."
    )

    @classmethod
    def of(cls, window: UsageWindow) -> UsageSummary:
        change = (
            round(window.events / window.previous_events - 1, 4) if window.previous_events else None
        )
        return cls(days=window.days, active_days=window.active_days,
                   peak_active_users=window.peak_active_users,
                   average_daily_active_users=round(window.active_user_days / window.days, 2),
                   events=window.events, previous_events=window.previous_events,
                   events_change=change, last_active_on=window.last_active_on)  # fmt: skip
