"""Which accounts a playbook's trigger hits: from outbox events, or from the store's state.

A hit carries its **occurrence**: ``event:ID`` for an event, or the state's own key (a contract's
renewal, usage over entitlement) for a state. The engine fires a playbook once per occurrence.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cs_core._book import contract_terms, renewal_outcome
from cs_core._lifecycle import LIFECYCLE_STAGE_CHANGED, MILESTONE_OVERDUE
from cs_core._outbox import DomainEvent
from cs_core._playbooks import (
    ContactRoleChanged,
    EventOccurred,
    MilestoneOverdue,
    NegativeNps,
    NoActivity,
    RenewalWindow,
    ScoreDrop,
    SignalFired,
    StageEntered,
    TierEntered,
    TierLeft,
    UsageOverEntitlement,
)
from cs_core._policies import Policies
from cs_core._scoring_run import HEALTH_CHANGED, SIGNAL_FIRED
from cs_core._tables import Account, UsageDaily
from cs_core._writes import CONTACT_ROLE_CHANGED

__all__ = [
    "EventTrigger",
    "Hit",
    "StateTrigger",
    "event_types",
    "match_event",
    "state_hits",
]

EventTrigger = (
    TierEntered | TierLeft | ScoreDrop | SignalFired | NegativeNps | StageEntered
    | MilestoneOverdue | ContactRoleChanged | EventOccurred
)  # fmt: skip
StateTrigger = RenewalWindow | UsageOverEntitlement | NoActivity


@dataclass(frozen=True, slots=True)
class Hit:
    """A trigger occurrence for one account, and why."""

    account_id: int
    occurrence: str
    reason: str
    details: Mapping[str, Any] = field(default_factory=dict)


def event_types(trigger: EventTrigger) -> tuple[str, ...]:
    """The outbox event types ``trigger`` listens to."""
    match trigger:
        case TierEntered() | TierLeft() | ScoreDrop():
            return (HEALTH_CHANGED,)
        case SignalFired() | NegativeNps():
            return (SIGNAL_FIRED,)
        case StageEntered():
            return (LIFECYCLE_STAGE_CHANGED,)
        case MilestoneOverdue():
            return (MILESTONE_OVERDUE,)
        case ContactRoleChanged():
            return (CONTACT_ROLE_CHANGED,)
        case EventOccurred():
            return (trigger.type,)


def _tiers(payload: Mapping[str, Any]) -> tuple[str | None, str | None, Any]:
    current = payload.get("current") or {}
    previous = payload.get("previous") or {}
    return previous.get("tier"), current.get("tier"), current.get("score")


def _same(left: str | None, right: str) -> bool:
    return left is not None and left.lower() == right.lower()


def match_event(  # noqa: PLR0911, PLR0912 - one case per kind of trigger
    trigger: EventTrigger, event: DomainEvent
) -> str | None:
    """Why ``event`` fires ``trigger``, or ``None`` when it does not."""
    payload = event.payload
    match trigger:
        case TierEntered(tier=tier):
            before, now, score = _tiers(payload)
            if _same(now, tier) and not _same(before, tier):
                return f"entered {now} (score {score})"
        case TierLeft(tier=tier):
            before, now, score = _tiers(payload)
            if _same(before, tier) and not _same(now, tier):
                return f"left {before} for {now} (score {score})"
        case ScoreDrop(points=points):
            delta = payload.get("delta")
            if delta is not None and delta <= -points:
                return f"score fell {-delta:g} points to {_tiers(payload)[2]}"
        case NegativeNps():
            if payload.get("signal") == "negative_nps":
                return f"negative NPS ({_evidence(payload)})"
        case SignalFired(signals=signals, severities=severities):
            if (signals is None or payload.get("signal") in signals) and (
                severities is None or payload.get("severity") in severities
            ):
                return f"{payload.get('signal')} ({payload.get('severity')}: {_evidence(payload)})"
        case StageEntered(stage=stage):
            if payload.get("current") == stage.value:
                return f"entered {stage.value}: {payload.get('reason')}"
        case MilestoneOverdue(milestone=milestone):
            if milestone is None or payload.get("milestone") == milestone.value:
                return f"{payload.get('milestone')} overdue since {payload.get('due_on')}"
        case ContactRoleChanged(became=became):
            if became is None or became in payload.get("became", ()):
                return f"{payload.get('email')}: {payload.get('change')}"
        case EventOccurred(type=kind):
            return str(payload.get("reason") or kind)
    return None


def _evidence(payload: Mapping[str, Any]) -> str:
    evidence = payload.get("evidence") or {}
    return ", ".join(
        f"{name} {value:.3g}" if isinstance(value, float) else f"{name} {value}"
        for name, value in evidence.items()
        if value is not None and name != "threshold"
    )


def state_hits(
    session: Session, trigger: StateTrigger, as_of: datetime, policies: Policies
) -> Iterator[Hit]:
    """The accounts whose state holds ``trigger`` at ``as_of``."""
    today = as_of.date()
    match trigger:
        case RenewalWindow(days=days):
            grace = policies.renewals.grace
            for terms in contract_terms(session).values():
                for term in terms:
                    if not (term.active_on(today) and term.end <= today + timedelta(days=days)):
                        continue
                    if renewal_outcome(term, terms, grace).renewed:
                        continue
                    left = (term.end - today).days
                    yield Hit(
                        term.account_id,
                        f"renewal:{term.contract_id}:{term.end.isoformat()}",
                        f"renews {term.end} in {left} days",
                        {"contract_id": term.contract_id, "renewal_date": term.end.isoformat(),
                         "days_to_renewal": left, "arr": str(term.arr)},
                    )  # fmt: skip
        case UsageOverEntitlement(share=share):
            peak = (
                select(UsageDaily.account_id, func.max(UsageDaily.active_users).label("users"))
                .where(UsageDaily.day >= today - timedelta(days=30), UsageDaily.day < today)
                .group_by(UsageDaily.account_id)
                .subquery()
            )
            for account, seats, users in session.execute(
                select(Account.id, Account.licensed_seats, peak.c.users)
                .join(peak, peak.c.account_id == Account.id)
                .where(Account.licensed_seats > 0, peak.c.users >= Account.licensed_seats * share)
            ):
                yield Hit(
                    account, "usage_over_entitlement",
                    f"{users} of {seats} seats active ({users / seats:.0%})",
                    {"active_users": users, "seats": seats},
                )  # fmt: skip
        case NoActivity(days=days):
            for account, last in session.execute(
                select(UsageDaily.account_id, func.max(UsageDaily.day))
                .where(UsageDaily.active_users > 0, UsageDaily.day < today)
                .group_by(UsageDaily.account_id)
                .having(func.max(UsageDaily.day) <= today - timedelta(days=days))
            ):
                idle = (today - last).days
                yield Hit(account, "no_activity", f"no active user for {idle} days",
                          {"last_active": last.isoformat(), "days": idle})  # fmt: skip
