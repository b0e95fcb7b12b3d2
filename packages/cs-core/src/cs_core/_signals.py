"""Predictive signals: the early warnings and opportunities of seed 003 and the SOP.

Each scoring run checks every account against the thresholds below. A signal that fires opens
with its severity and evidence (the numbers that fired it); while it keeps firing its evidence
and last-seen time are refreshed; when it stops, it is resolved. Opening and resolving are
``signal.fired`` and ``signal.resolved`` outbox events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SIGNAL_METRICS", "FiredSignal", "Severity", "SignalThresholds", "detect_signals"]

SIGNAL_METRICS = frozenset(
    {
        "usage_trend",
        "usage_change_90d",
        "days_since_last_activity",
        "champions_left",
        "latest_nps",
        "ticket_spike_ratio",
        "tickets_last_30_days",
        "active_user_ratio",
        "months_since_last_expansion",
        "days_to_renewal",
    }
)
"""The metrics the signals read, computed in every run whatever the scorecards read."""


class Severity(StrEnum):
    """How urgently a signal asks for attention; ``opportunity`` marks good news."""

    OPPORTUNITY = "opportunity"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class SignalThresholds(BaseModel):
    """When each signal fires. The defaults are the seeds'."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    usage_drop: float = Field(default=0.20, gt=0, lt=1)
    """Period-over-period fall in events (30 days against the 30 before) that fires usage_drop."""
    usage_decline: float = Field(default=0.50, gt=0, lt=1)
    """Fall against the level of 61-90 days ago that fires usage_decline."""
    inactive_days: int = Field(default=30, ge=1)
    negative_nps: float = Field(default=6, ge=0, le=10)
    """An NPS answer at or below this is negative."""
    ticket_spike_ratio: float = Field(default=2.0, gt=1)
    """Tickets of the last 30 days over the monthly average of the 90 days before."""
    ticket_spike_minimum: int = Field(default=3, ge=1)
    """Fewer tickets than this in 30 days is never a spike."""
    entitlement_share: float = Field(default=0.80, gt=0)
    """Active users over licensed seats above which expansion is worth a call."""
    months_without_expansion: float = Field(default=12, gt=0)
    renewal_window_days: int = Field(default=180, ge=1)
    renewal_risk_tiers: frozenset[str] = frozenset({"Yellow", "Red"})


@dataclass(frozen=True, slots=True)
class FiredSignal:
    """A signal that holds for an account now."""

    kind: str
    severity: Severity
    evidence: dict[str, float | str | None]


def detect_signals(
    metrics: Mapping[str, float | None],
    tier: str | None,
    thresholds: SignalThresholds | None = None,
) -> list[FiredSignal]:
    """The signals that ``metrics`` (and the account's ``tier``) fire."""
    limits = thresholds or SignalThresholds()
    fired: list[FiredSignal] = []

    def check(
        kind: str, severity: Severity, condition: bool, **evidence: float | str | None
    ) -> None:
        if condition:
            fired.append(FiredSignal(kind, severity, dict(evidence)))

    trend = metrics.get("usage_trend")
    check(
        "usage_drop",
        Severity.MEDIUM,
        trend is not None and trend < -limits.usage_drop,
        usage_trend=trend,
        threshold=-limits.usage_drop,
    )
    change = metrics.get("usage_change_90d")
    check(
        "usage_decline",
        Severity.HIGH,
        change is not None and change < -limits.usage_decline,
        usage_change_90d=change,
        threshold=-limits.usage_decline,
    )
    idle = metrics.get("days_since_last_activity")
    check(
        "no_activity",
        Severity.HIGH,
        idle is not None and idle >= limits.inactive_days,
        days_since_last_activity=idle,
        threshold=limits.inactive_days,
    )
    left = metrics.get("champions_left")
    check("champion_left", Severity.HIGH, bool(left), champions_left=left)
    nps = metrics.get("latest_nps")
    check(
        "negative_nps",
        Severity.HIGH,
        nps is not None and nps <= limits.negative_nps,
        latest_nps=nps,
        threshold=limits.negative_nps,
    )
    spike, recent = metrics.get("ticket_spike_ratio"), metrics.get("tickets_last_30_days")
    check(
        "ticket_spike",
        Severity.MEDIUM,
        spike is not None
        and recent is not None
        and spike > limits.ticket_spike_ratio
        and recent >= limits.ticket_spike_minimum,
        ticket_spike_ratio=spike,
        tickets_last_30_days=recent,
        threshold=limits.ticket_spike_ratio,
    )
    share = metrics.get("active_user_ratio")
    check(
        "entitlement_near_limit",
        Severity.OPPORTUNITY,
        share is not None and share > limits.entitlement_share,
        active_user_ratio=share,
        threshold=limits.entitlement_share,
    )
    months = metrics.get("months_since_last_expansion")
    check(
        "no_expansion",
        Severity.LOW,
        months is not None and months > limits.months_without_expansion,
        months_since_last_expansion=months,
        threshold=limits.months_without_expansion,
    )
    days = metrics.get("days_to_renewal")
    check(
        "renewal_at_risk",
        Severity.CRITICAL,
        days is not None
        and 0 <= days <= limits.renewal_window_days
        and tier in limits.renewal_risk_tiers,
        days_to_renewal=days,
        tier=tier,
        threshold=limits.renewal_window_days,
    )
    return fired
