"""The catalogue of metrics: the named, documented inputs that scorecard measures read.

A metric has one value per account at an as-of time, or none when the data to compute it is
missing (what a measure then does is its missing-data policy). This module names and describes
them; scorecards are validated against it, so that a typo in a metric name is an error when the
scorecard is loaded, not a silently missing measure.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["BUILTIN_METRICS", "Direction", "MetricCatalogue", "MetricDefinition"]


class Direction(StrEnum):
    """Whether more of a metric is healthier."""

    HIGHER_IS_BETTER = "higher_is_better"
    LOWER_IS_BETTER = "lower_is_better"


@dataclass(frozen=True, slots=True)
class MetricDefinition:
    """What a metric measures, in which unit, and which way is healthy."""

    name: str
    description: str
    unit: str
    direction: Direction


def _metric(name: str, unit: str, direction: Direction, description: str) -> MetricDefinition:
    return MetricDefinition(name=name, description=description, unit=unit, direction=direction)


_UP = Direction.HIGHER_IS_BETTER
_DOWN = Direction.LOWER_IS_BETTER

BUILTIN_METRICS: tuple[MetricDefinition, ...] = (
    _metric("active_user_ratio", "ratio", _UP,
            "Distinct users active in the last 30 days over licensed seats (0-1, may exceed 1)."),
    _metric("dau_mau", "ratio", _UP,
            "Stickiness: average daily active users over monthly active users, last 30 days."),
    _metric("feature_adoption", "ratio", _UP,
            "Share of the product's features used at least once in the last 30 days."),
    _metric("workflows_running", "count", _UP,
            "Distinct days with automated workflow runs in the last 7 days."),
    _metric("usage_trend", "ratio", _UP,
            "Events in the last 30 days over events in the 30 days before, minus one."),
    _metric("usage_change_90d", "ratio", _UP,
            "Events in the last 30 days over events 61-90 days ago, minus one."),
    _metric("days_since_last_activity", "days", _DOWN,
            "Days since the account's last recorded product activity."),
    _metric("tickets_per_month", "tickets", _DOWN,
            "Support tickets opened per 30 days, over the last 90 days."),
    _metric("ticket_spike_ratio", "ratio", _DOWN,
            "Tickets of the last 30 days over the monthly average of the 90 days before."),
    _metric("tickets_last_30_days", "tickets", _DOWN,
            "Support tickets opened in the last 30 days."),
    _metric("open_p1_p2_tickets", "tickets", _DOWN,
            "Tickets of priority P1 or P2 still open."),
    _metric("sla_breaches", "tickets", _DOWN,
            "Tickets of the last 90 days whose first response or resolution missed its SLA."),
    _metric("nps", "score 0-10", _UP,
            "Average NPS answer (0-10) of the last 180 days."),
    _metric("latest_nps", "score 0-10", _UP,
            "The most recent NPS answer of the last 90 days."),
    _metric("csat", "score 0-10", _UP,
            "Average CSAT answer of the last 180 days, on a 10-point scale (1-5 answers doubled)."),
    _metric("qbr_attended", "yes/no", _UP,
            "1 if a business review was held and attended in the last 120 days, else 0."),
    _metric("outreach_response_hours", "hours", _DOWN,
            "Median hours the customer took to answer outreach, last 90 days."),
    _metric("champion_present", "yes/no", _UP,
            "1 if the account has an active champion, else 0."),
    _metric("champions_left", "contacts", _DOWN,
            "Champions who have left the company."),
    _metric("executive_sponsor_engaged", "yes/no", _UP,
            "1 if an active executive sponsor engaged in the last 90 days, else 0."),
    _metric("goals_met", "ratio", _UP,
            "Share of the success plan's goals met (1 yes, 0.5 partial, 0 no)."),
    _metric("roi_achieved", "ratio", _UP,
            "ROI the customer confirmed: 1 achieved, 0.5 partial, 0 not achieved."),
    _metric("payment_overdue_days", "days", _DOWN,
            "Days the oldest unpaid invoice is past due (0 when none is)."),
    _metric("months_since_last_expansion", "months", _DOWN,
            "Months since the last won expansion opportunity (since becoming a customer if none)."),
    _metric("days_to_renewal", "days", _UP,
            "Days until the current contract's renewal date."),
    _metric("churn_risk", "probability", _DOWN,
            "Probability of churn within the horizon, from the newest fitted churn model."),
)  # fmt: skip


class MetricCatalogue(Mapping[str, MetricDefinition]):
    """The metrics a scorecard may read: the built-ins plus those plugins register."""

    def __init__(self, metrics: Iterable[MetricDefinition] = BUILTIN_METRICS) -> None:
        self._metrics: dict[str, MetricDefinition] = {}
        for metric in metrics:
            self.add(metric)

    def add(self, metric: MetricDefinition) -> None:
        """Add a metric; a name already taken is an error."""
        if metric.name in self._metrics:
            raise ValueError(f"metric {metric.name!r} is defined twice")
        self._metrics[metric.name] = metric

    def __getitem__(self, name: str) -> MetricDefinition:
        return self._metrics[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._metrics)

    def __len__(self) -> int:
        return len(self._metrics)
