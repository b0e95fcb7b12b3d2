"""Lifecycle stages and onboarding milestones, evaluated from the store.

Each account's stage follows from its data, in this order (the first that holds wins):

1. **churned**: no contract in force, the last one ended unrenewed more than the renewal grace
   days ago (within them, the account is in **renewal**, its renewal overdue);
2. **onboarding**: it became a customer within ``onboarding.tracked_days`` and has not reached its
   handoff milestone;
3. **renewal**: a contract in force ends within ``lifecycle.renewal_window_days``, unrenewed;
4. **adoption**: fewer than ``lifecycle.adoption_days`` since its handoff, and the adoption
   criteria (active-user ratio, workflows running) not yet met;
5. **expansion**: an open expansion opportunity or expansion signal;
6. **success**: otherwise.

An account becomes a customer on its first contract's start or its first won new-business deal,
whichever is earlier. Milestones are reached when a source records them (a milestone record) or,
for technical setup, first value and handoff, when the data shows them: the first day of usage,
the first workflow run, and all other milestones reached with a health score as baseline.
Stage changes, reached milestones and overdue milestones are outbox events, each announced once.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from statistics import median
from typing import Any, TypeVar

from sqlalchemy import Select, func, select, type_coerce
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from cs_core._book import ContractTerm, contract_terms, renewal_outcome
from cs_core._enums import (
    LifecycleStage,
    OnboardingMilestone,
    OpportunityOutcome,
    OpportunityType,
    Segment,
)
from cs_core._markers import MetricProvider
from cs_core._metric_registry import installed_metrics
from cs_core._metric_values import (
    WORKFLOW_FEATURE,
    AccountRange,
    account_ranges,
    compute_metrics,
)
from cs_core._outbox import NewEvent, append_events
from cs_core._policies import OnboardingTrack, Policies, load_policies
from cs_core._renewals import EXPANSION_SIGNALS
from cs_core._rescore import mark_for_rescoring
from cs_core._sql import bulk_upsert
from cs_core._store import Store
from cs_core._tables import (
    Account,
    AccountLifecycle,
    HealthHistory,
    Milestone,
    MilestoneStatus,
    Opportunity,
    Signal,
    UsageDaily,
    UsageFeatureDaily,
)
from cs_core._types import utc_midnight, utc_moment

__all__ = [
    "LIFECYCLE_STAGE_CHANGED",
    "MILESTONE_COMPLETED",
    "MILESTONE_OVERDUE",
    "AccountFacts",
    "Completion",
    "Decision",
    "LifecycleReport",
    "TimeToValue",
    "account_stage",
    "customer_since",
    "decide_stage",
    "join_stage",
    "milestone_completions",
    "time_to_value_by_segment",
    "update_lifecycle",
]

LIFECYCLE_STAGE_CHANGED = "lifecycle.stage_changed"
MILESTONE_COMPLETED = "milestone.completed"
MILESTONE_OVERDUE = "milestone.overdue"

_ADOPTION_METRICS = frozenset({"active_user_ratio", "workflows_running"})


_Query = TypeVar("_Query", bound="Select[*tuple[Any, ...]]")


def account_stage() -> ColumnElement[LifecycleStage]:
    """SQL: the account's stage as last evaluated from the store, else as its source gives it.

    The query must join the evaluations in with :func:`join_stage`.
    """
    return type_coerce(
        func.coalesce(AccountLifecycle.stage, Account.lifecycle_stage), Account.lifecycle_stage.type
    )


def join_stage(query: _Query) -> _Query:
    """``query`` over accounts, their lifecycle evaluations joined for :func:`account_stage`."""
    return query.outerjoin(AccountLifecycle, AccountLifecycle.account_id == Account.id)


def customer_since(session: Session, accounts: Select[int]) -> dict[int, date]:
    """Per account, the day it became a customer: its first contract or won new deal."""
    since: dict[int, date] = {}
    for terms in contract_terms(session, accounts).values():
        since[terms[0].account_id] = terms[0].start
    for account, day in session.execute(
        select(Opportunity.account_id, func.min(Opportunity.close_date))
        .where(
            Opportunity.account_id.in_(accounts.scalar_subquery()),
            Opportunity.type == OpportunityType.NEW,
            Opportunity.outcome == OpportunityOutcome.WON,
        )
        .group_by(Opportunity.account_id)
    ):
        if account is not None and (account not in since or day < since[account]):
            since[account] = day
    return since


@dataclass(frozen=True, slots=True)
class Completion:
    """When a milestone was reached, and the evidence."""

    at: datetime
    evidence: str


def milestone_completions(
    session: Session, accounts: Select[int], as_of: datetime, since: Mapping[int, date]
) -> dict[int, dict[OnboardingMilestone, Completion]]:
    """Per account, the milestones reached by ``as_of``: recorded, or detected from the data.

    A detected milestone is dated no earlier than the day the account became a customer (usage
    during a trial means setup was done by the start).
    """
    mine = accounts.scalar_subquery()
    reached: dict[int, dict[OnboardingMilestone, Completion]] = defaultdict(dict)
    for account, milestone, at, source in session.execute(
        select(Milestone.account_id, Milestone.milestone, Milestone.completed_at, Milestone.source)
        .where(Milestone.account_id.in_(mine), Milestone.completed_at <= as_of)
        .order_by(Milestone.completed_at.desc())
    ):
        if account is not None:
            reached[account][milestone] = Completion(at, f"recorded by {source}")
    today = as_of.date()
    detections = (
        (OnboardingMilestone.TECHNICAL_SETUP, "first day of usage",
         select(UsageDaily.account_id, func.min(UsageDaily.day))
         .where(UsageDaily.account_id.in_(mine), UsageDaily.events > 0, UsageDaily.day < today)
         .group_by(UsageDaily.account_id)),
        (OnboardingMilestone.FIRST_VALUE, "first workflow run",
         select(UsageFeatureDaily.account_id, func.min(UsageFeatureDaily.day))
         .where(UsageFeatureDaily.account_id.in_(mine),
                UsageFeatureDaily.feature == WORKFLOW_FEATURE, UsageFeatureDaily.events > 0,
                UsageFeatureDaily.day < today)
         .group_by(UsageFeatureDaily.account_id)),
    )  # fmt: skip
    for milestone, evidence, query in detections:
        for account, day in session.execute(query):
            start = since.get(account)
            if start is None or milestone in reached[account]:
                continue
            reached[account][milestone] = Completion(utc_midnight(max(day, start)), evidence)
    baselines = dict(
        session.execute(
            select(HealthHistory.account_id, func.min(HealthHistory.as_of))
            .where(HealthHistory.account_id.in_(mine), HealthHistory.as_of <= as_of)
            .group_by(HealthHistory.account_id)
        ).all()
    )
    before_handoff = [m for m in OnboardingMilestone if m is not OnboardingMilestone.HANDOFF]
    for account, done in reached.items():
        if OnboardingMilestone.HANDOFF in done or account not in baselines:
            continue
        if all(m in done for m in before_handoff):
            at = max([baselines[account], *(done[m].at for m in before_handoff)])
            done[OnboardingMilestone.HANDOFF] = Completion(at, "all milestones with a health score")
    return dict(reached)


@dataclass(frozen=True, slots=True)
class AccountFacts:
    """What an account's stage is decided from."""

    since: date | None
    terms: tuple[ContractTerm, ...]
    handoff: datetime | None
    tracked: bool
    """Whether it became a customer recently enough for its onboarding to be tracked."""
    active_user_ratio: float | None = None
    workflows_running: float | None = None
    expansion: str | None = None
    """What points to an expansion, if anything does."""


Decision = tuple[LifecycleStage, str]


def _ended(facts: AccountFacts, today: date, policies: Policies) -> Decision | None:
    if not facts.terms or any(term.active_on(today) for term in facts.terms):
        return None
    last = max(facts.terms, key=lambda term: term.end)
    if last.start > today:
        return LifecycleStage.RENEWAL, f"next contract starts {last.start}"
    if today < last.end + policies.renewals.grace:
        return LifecycleStage.RENEWAL, f"contract ended {last.end}, renewal overdue"
    return LifecycleStage.CHURNED, f"last contract ended {last.end} unrenewed"


def _onboarding(facts: AccountFacts, today: date, policies: Policies) -> Decision | None:
    if facts.tracked and facts.handoff is None:
        return LifecycleStage.ONBOARDING, f"customer since {facts.since}, handoff not reached"
    return None


def _renewing(facts: AccountFacts, today: date, policies: Policies) -> Decision | None:
    window_end = today + timedelta(days=policies.lifecycle.renewal_window_days)
    for term in facts.terms:
        if (
            term.active_on(today)
            and term.end <= window_end
            and not renewal_outcome(term, facts.terms, policies.renewals.grace).renewed
        ):
            return LifecycleStage.RENEWAL, f"contract ends {term.end}"
    return None


def _adopting(facts: AccountFacts, today: date, policies: Policies) -> Decision | None:
    rules = policies.lifecycle
    if facts.handoff is None or today >= facts.handoff.date() + timedelta(days=rules.adoption_days):
        return None
    adopted = (facts.active_user_ratio or 0) >= rules.adoption_active_user_ratio and (
        facts.workflows_running or 0
    ) >= rules.adoption_workflows
    if adopted:
        return None
    return LifecycleStage.ADOPTION, f"handed off {facts.handoff.date()}, adoption not met"


def _expanding(facts: AccountFacts, today: date, policies: Policies) -> Decision | None:
    return None if facts.expansion is None else (LifecycleStage.EXPANSION, facts.expansion)


_RULES = (_ended, _onboarding, _renewing, _adopting, _expanding)
"""The stage rules in the order of the module's docstring; the first that decides wins."""


def decide_stage(facts: AccountFacts, today: date, policies: Policies) -> Decision | None:
    """The account's stage on ``today`` and why; ``None`` without a contract or a won deal."""
    if not facts.terms and facts.since is None:
        return None
    for rule in _RULES:
        decided = rule(facts, today, policies)
        if decided is not None:
            return decided
    return LifecycleStage.SUCCESS, "in force, adopted, no renewal or expansion in sight"


@dataclass(frozen=True, slots=True)
class LifecycleReport:
    """What a lifecycle evaluation found and recorded."""

    as_of: datetime
    accounts: int
    stages: dict[str, int] = field(default_factory=dict)
    changed: int = 0
    milestones_completed: int = 0
    milestones_overdue: int = 0
    at_risk: int = 0
    events: int = 0


def update_lifecycle(
    store: Store,
    *,
    as_of: datetime | None = None,
    policies: Policies | None = None,
    chunk_size: int = 5000,
) -> LifecycleReport:
    """Evaluate every account's stage and onboarding milestones as of ``as_of`` (default: now);
    record what changed and announce it, one transaction per chunk of accounts."""
    moment = utc_moment(as_of, "as_of")
    chosen = policies or load_policies()
    providers = installed_metrics().providers_for(_ADOPTION_METRICS)
    store.check_ready()
    totals: Counter[str] = Counter()
    stages: Counter[str] = Counter()
    for scope in account_ranges(store, chunk_size):
        with store.transaction() as session:
            chunk = _evaluate_chunk(session, scope, moment, chosen, providers)
        totals.update(chunk[0])
        stages.update(chunk[1])
    return LifecycleReport(
        as_of=moment,
        accounts=sum(stages.values()),
        stages=dict(stages),
        changed=totals["changed"],
        milestones_completed=totals["completed"],
        milestones_overdue=totals["overdue"],
        at_risk=totals["at_risk"],
        events=totals["events"],
    )


def _evaluate_chunk(
    session: Session,
    scope: AccountRange,
    moment: datetime,
    policies: Policies,
    providers: list[MetricProvider],
) -> tuple[Counter[str], Counter[str]]:
    today = moment.date()
    accounts = select(Account.id).where(scope.covers(Account.id))
    described = {
        account: (segment, stage)
        for account, segment, stage in session.execute(
            select(Account.id, Account.segment, Account.lifecycle_stage).where(
                scope.covers(Account.id)
            )
        )
    }
    terms = contract_terms(session, accounts)
    since = customer_since(session, accounts)
    reached = milestone_completions(session, accounts, moment, since)
    metrics = compute_metrics(session, scope, moment, providers)
    expansion = _expansion_reasons(session, accounts, moment)
    stored = {row.account_id: row for row in session.scalars(
        select(AccountLifecycle).where(scope.covers(AccountLifecycle.account_id)))}  # fmt: skip
    statuses = {(row.account_id, row.milestone): row for row in session.scalars(
        select(MilestoneStatus).where(scope.covers(MilestoneStatus.account_id)))}  # fmt: skip
    counts: Counter[str] = Counter()
    stages: Counter[str] = Counter()
    lifecycle_rows: list[dict[str, object]] = []
    status_rows: list[dict[str, object]] = []
    events: list[NewEvent] = []
    changed_accounts: list[int] = []
    for account, (segment, source_stage) in sorted(described.items()):
        start = since.get(account)
        tracked = start is not None and (today - start).days <= policies.onboarding.tracked_days
        done = reached.get(account, {})
        handoff = done.get(OnboardingMilestone.HANDOFF)
        facts = AccountFacts(
            since=start,
            terms=tuple(terms.get(account, ())),
            handoff=handoff.at if handoff else None,
            tracked=tracked,
            active_user_ratio=metrics.get(account, {}).get("active_user_ratio"),
            workflows_running=metrics.get(account, {}).get("workflows_running"),
            expansion=expansion.get(account),
        )
        decided = decide_stage(facts, today, policies)
        if decided is None:
            continue
        stage, reason = decided
        stages[stage.value] += 1
        overdue = False
        if tracked and start is not None:
            overdue = _track_milestones(
                account, policies.onboarding.tracks[segment], start, done, statuses, moment,
                status_rows, events, counts,
            )  # fmt: skip
        first_value = done.get(OnboardingMilestone.FIRST_VALUE)
        previous = stored.get(account)
        ttv = (
            (first_value.at.date() - start).days
            if tracked and first_value is not None and start is not None
            else previous.time_to_value_days
            if previous
            else None
        )
        at_risk = overdue and stage is LifecycleStage.ONBOARDING
        counts["at_risk"] += at_risk
        changed = previous is None or previous.stage is not stage
        lifecycle_rows.append({
            "account_id": account, "stage": stage,
            "entered_at": moment if changed or previous is None else previous.entered_at,
            "reason": reason[:255], "onboarding_started_on": start if tracked else
            (previous.onboarding_started_on if previous else None),
            "time_to_value_days": ttv, "at_risk": at_risk, "evaluated_at": moment,
        })  # fmt: skip
        if stage is not (previous.stage if previous else source_stage):
            changed_accounts.append(account)  # scored so far by another stage's scorecard
        if changed:
            counts["changed"] += 1
            events.append(NewEvent(LIFECYCLE_STAGE_CHANGED, {
                "account_id": account, "previous": previous.stage.value if previous else None,
                "current": stage.value, "reason": reason, "as_of": moment.isoformat()},
                account))  # fmt: skip
    bulk_upsert(session, AccountLifecycle.__table__, ("account_id",), lifecycle_rows)  # type: ignore[arg-type]
    bulk_upsert(session, MilestoneStatus.__table__, ("account_id", "milestone"), status_rows)  # type: ignore[arg-type]
    append_events(session, events)
    # The stage chooses the scorecard: an account that changed stage needs rescoring.
    mark_for_rescoring(session, changed_accounts)
    counts["events"] += len(events)
    return counts, stages


def _track_milestones(
    account: int,
    track: OnboardingTrack,
    start: date,
    done: Mapping[OnboardingMilestone, Completion],
    statuses: Mapping[tuple[int, OnboardingMilestone], MilestoneStatus],
    moment: datetime,
    rows: list[dict[str, object]],
    events: list[NewEvent],
    counts: Counter[str],
) -> bool:
    """Add the account's milestone rows and their news; whether any milestone is overdue."""
    today = moment.date()
    overdue = False
    for milestone, due_day in track.milestones.items():
        due_on = start + timedelta(days=due_day)
        completion = done.get(milestone)
        before = statuses.get((account, milestone))
        late = completion is None and today > due_on
        overdue |= late
        since_when = before.overdue_since if before is not None else None
        rows.append(
            {
                "account_id": account, "milestone": milestone, "due_on": due_on,
                "completed_at": completion.at if completion else None,
                "evidence": completion.evidence if completion else None,
                "overdue_since": since_when or (due_on + timedelta(days=1) if late else None),
            }
        )  # fmt: skip
        payload = {"account_id": account, "milestone": milestone.value,
                   "due_on": due_on.isoformat(), "as_of": moment.isoformat()}  # fmt: skip
        if completion is not None and (before is None or before.completed_at is None):
            counts["completed"] += 1
            events.append(NewEvent(MILESTONE_COMPLETED, {
                **payload, "completed_at": completion.at.isoformat(),
                "evidence": completion.evidence}, account))  # fmt: skip
        if late and since_when is None:
            counts["overdue"] += 1
            events.append(NewEvent(MILESTONE_OVERDUE, {**payload, "track_owner": track.owner},
                                   account))  # fmt: skip
    return overdue


def _expansion_reasons(session: Session, accounts: Select[int], moment: datetime) -> dict[int, str]:
    mine = accounts.scalar_subquery()
    reasons: dict[int, str] = {}
    for (account,) in session.execute(
        select(Signal.account_id).where(
            Signal.account_id.in_(mine), Signal.kind.in_(EXPANSION_SIGNALS),
            Signal.first_seen_at <= moment,
            (Signal.resolved_at.is_(None)) | (Signal.resolved_at > moment),
        )
    ):  # fmt: skip
        reasons[account] = "usage over its entitlement's threshold"
    for (owner,) in session.execute(
        select(Opportunity.account_id).where(
            Opportunity.account_id.in_(mine), Opportunity.type == OpportunityType.EXPANSION,
            Opportunity.outcome == OpportunityOutcome.OPEN,
        )
    ):  # fmt: skip
        if owner is not None:
            reasons[owner] = "open expansion opportunity"
    return reasons


@dataclass(frozen=True, slots=True)
class TimeToValue:
    """Time to value of a segment's onboarded accounts, in days."""

    accounts: int
    median_days: float | None
    mean_days: float | None


def time_to_value_by_segment(store: Store) -> dict[Segment, TimeToValue]:
    """Per segment, the time to value recorded by the last lifecycle evaluation."""
    store.check_ready()
    days: dict[Segment, list[int]] = {segment: [] for segment in Segment}
    with store.transaction() as session:
        for segment, value in session.execute(
            select(Account.segment, AccountLifecycle.time_to_value_days)
            .join(AccountLifecycle, AccountLifecycle.account_id == Account.id)
            .where(AccountLifecycle.time_to_value_days.is_not(None))
        ):
            if value is not None:
                days[segment].append(value)
    return {
        segment: TimeToValue(
            accounts=len(values),
            median_days=float(median(values)) if values else None,
            mean_days=sum(values) / len(values) if values else None,
        )
        for segment, values in days.items()
    }
