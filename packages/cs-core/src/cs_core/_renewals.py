"""Renewals: each contract's schedule on its track, the forecast, its accuracy, the pipeline.

A contract's renewal runs on its track's steps (``renewals.tracks`` in the policies), each due a
number of days before the renewal date. The chance that a renewal closes comes from the account's
health tier at the time of the forecast, less a penalty for each signal then open; the expected
ARR is the contract's ARR times that chance. Everything is computed as of a chosen time from what
was known then, so a forecast made in the past can be compared with what actually renewed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from cs_core._book import accounts_of, contract_terms, renewal_outcome
from cs_core._enums import OpportunityOutcome, OpportunityType, RenewalTrack, Segment
from cs_core._errors import InvalidArgumentError
from cs_core._overrides import override_in_force
from cs_core._period import Period
from cs_core._policies import Policies, RenewalPolicy, RenewalStep, load_policies
from cs_core._signals import Severity
from cs_core._store import Store
from cs_core._tables import Account, Contract, HealthHistory, HealthOverride, Opportunity, Signal
from cs_core._types import utc_moment

__all__ = [
    "ExpansionLead",
    "RenewalForecast",
    "TierForecast",
    "UpcomingRenewal",
    "expansion_pipeline",
    "renewal_forecast",
    "upcoming_renewals",
]

EXPANSION_SIGNALS = frozenset({"entitlement_near_limit"})
"""Signals that point to an expansion rather than a risk."""


@dataclass(frozen=True, slots=True)
class UpcomingRenewal:
    """A contract coming up for renewal, where it is on its track, and how likely it is."""

    account_id: int
    account: str
    """``source:external_id`` of the account."""
    name: str
    owner: str | None
    segment: Segment
    contract_id: int
    renewal_date: date
    days_to_renewal: int
    track: RenewalTrack
    arr: Decimal
    tier: str | None
    open_signals: dict[str, int]
    """Open signals by severity at the as-of time."""
    likelihood: float
    current_step: RenewalStep | None
    """The latest step due by the as-of time; ``None`` before the track opens."""
    next_step: RenewalStep | None

    @property
    def expected_arr(self) -> Decimal:
        return (self.arr * Decimal(str(self.likelihood))).quantize(Decimal("0.01"))

    @property
    def next_due(self) -> date | None:
        return None if self.next_step is None else self.next_step.due(self.renewal_date)


def _likelihood(policy: RenewalPolicy, tier: str | None, signals: Counter[str]) -> float:
    penalty = sum(
        policy.signal_penalty.get(Severity(severity), 0.0) * count
        for severity, count in signals.items()
    )
    return round(min(1.0, max(0.0, policy.base_likelihood(tier) - penalty)), 4)


def _tiers_at(
    session: Session, accounts: set[int], moment: datetime, scope: Select[int]
) -> dict[int, str | None]:
    """Each account's effective tier at ``moment``: an override in force, else its last score.

    ``scope`` selects the accounts of the report, so that only their history is read."""
    tiers: dict[int, str | None] = {}
    for account, tier in session.execute(
        select(HealthHistory.account_id, HealthHistory.tier)
        .where(HealthHistory.as_of <= moment, HealthHistory.account_id.in_(scope.scalar_subquery()))
        .order_by(HealthHistory.account_id, HealthHistory.as_of, HealthHistory.id)
    ):
        if account in accounts:
            tiers[account] = tier
    for account, tier in session.execute(
        select(HealthOverride.account_id, HealthOverride.tier)
        .where(override_in_force(moment), HealthOverride.account_id.in_(scope.scalar_subquery()))
        .order_by(HealthOverride.created_at, HealthOverride.id)
    ):
        if account in accounts:
            tiers[account] = tier
    return tiers


def _signals_at(
    session: Session, accounts: set[int], moment: datetime, scope: Select[int]
) -> dict[int, Counter[str]]:
    """Per account (of those ``scope`` selects), its risk signals open at ``moment``, counted by
    severity."""
    open_signals: dict[int, Counter[str]] = defaultdict(Counter)
    for account, severity in session.execute(
        select(Signal.account_id, Signal.severity).where(
            Signal.account_id.in_(scope.scalar_subquery()),
            Signal.first_seen_at <= moment,
            (Signal.resolved_at.is_(None)) | (Signal.resolved_at > moment),
            Signal.kind.not_in(EXPANSION_SIGNALS),
        )
    ):
        if account in accounts:
            open_signals[account][severity] += 1
    return open_signals


def _current_and_next(
    steps: tuple[RenewalStep, ...], renewal: date, today: date
) -> tuple[RenewalStep | None, RenewalStep | None]:
    due = [step for step in steps if step.due(renewal) <= today]
    ahead = [step for step in steps if step.due(renewal) > today]
    return (due[-1] if due else None, ahead[0] if ahead else None)


def upcoming_renewals(
    store: Store,
    *,
    within_days: int = 180,
    as_of: datetime | None = None,
    segment: Segment | str | None = None,
    owner: str | None = None,
    account_ids: Collection[int] | None = None,
    policies: Policies | None = None,
) -> list[UpcomingRenewal]:
    """Contracts renewing within ``within_days`` of ``as_of`` (default: now) and not yet renewed,
    soonest first.

    ``account_ids`` narrows them to those accounts (a page of a view), and the reading with them:
    only their contracts, history and signals are read.
    """
    if within_days < 0:
        raise InvalidArgumentError(f"within_days must not be negative, not {within_days}")
    moment = utc_moment(as_of, "as_of")
    today = moment.date()
    policy = (policies or load_policies()).renewals
    scope = accounts_of(segment, owner)
    if account_ids is not None:
        scope = scope.where(Account.id.in_(account_ids))
    store.check_ready()
    with store.transaction(read_only=True) as session:
        terms = contract_terms(session, scope)
        due = [
            term
            for account_terms in terms.values()
            for term in account_terms
            if today <= term.end <= today + timedelta(days=within_days)
            and not renewal_outcome(term, account_terms, policy.grace).renewed
        ]
        accounts = {term.account_id for term in due}
        tiers = _tiers_at(session, accounts, moment, scope)
        signals = _signals_at(session, accounts, moment, scope)
        details = {
            row.id: row
            for row in session.execute(
                select(Account.id, Account.source, Account.external_id, Account.name,
                       Account.owner, Account.segment).where(
                    Account.id.in_(scope.scalar_subquery())
                )
            )
            if row.id in accounts
        }  # fmt: skip
        tracks = dict(
            session.execute(
                select(Contract.id, Contract.renewal_track).where(
                    Contract.account_id.in_(scope.scalar_subquery())
                )
            ).all()
        )
    found = []
    for term in sorted(due, key=lambda term: (term.end, term.contract_id)):
        account = details[term.account_id]
        track = tracks[term.contract_id]
        current, following = _current_and_next(policy.tracks[track].steps, term.end, today)
        tier = tiers.get(term.account_id)
        found.append(
            UpcomingRenewal(
                account_id=term.account_id,
                account=f"{account.source}:{account.external_id}",
                name=account.name,
                owner=account.owner,
                segment=account.segment,
                contract_id=term.contract_id,
                renewal_date=term.end,
                days_to_renewal=(term.end - today).days,
                track=track,
                arr=term.arr,
                tier=tier,
                open_signals=dict(signals.get(term.account_id, Counter())),
                likelihood=_likelihood(policy, tier, signals.get(term.account_id, Counter())),
                current_step=current,
                next_step=following,
            )
        )
    return found


@dataclass(frozen=True, slots=True)
class TierForecast:
    """The renewals of one health tier in a forecast."""

    contracts: int
    arr: Decimal
    expected_arr: Decimal


@dataclass(frozen=True, slots=True)
class RenewalForecast:
    """Expected renewal ARR for the contracts ending in a period, as forecast at ``as_of``.

    Once the period and its grace days are over, ``actual_arr`` holds the ARR of the forecast
    contracts that did renew and ``accuracy`` is ``1 - |expected - actual| / actual``.
    """

    period: str
    as_of: datetime
    contracts: int
    arr: Decimal
    expected_arr: Decimal
    by_tier: dict[str, TierForecast] = field(default_factory=dict)
    actual_arr: Decimal | None = None
    renewed: int | None = None
    accuracy: float | None = None


def renewal_forecast(
    store: Store,
    period: Period,
    *,
    as_of: datetime | None = None,
    segment: Segment | str | None = None,
    owner: str | None = None,
    policies: Policies | None = None,
) -> RenewalForecast:
    """Forecast the renewals of contracts ending in ``period`` from what was known at ``as_of``
    (default: now), and measure the forecast against the outcome once it is known."""
    moment = utc_moment(as_of, "as_of")
    policy = (policies or load_policies()).renewals
    store.check_ready()
    with store.transaction(read_only=True) as session:
        terms = contract_terms(session, accounts_of(segment, owner))
        ending = [
            (term, account_terms)
            for account_terms in terms.values()
            for term in account_terms
            if period.start <= term.end < period.end and term.start <= moment.date()
        ]
        accounts = {term.account_id for term, _ in ending}
        tiers = _tiers_at(session, accounts, moment, accounts_of(segment, owner))
        signals = _signals_at(session, accounts, moment, accounts_of(segment, owner))
    by_tier: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0), Decimal(0)])
    for term, _ in ending:
        tier = tiers.get(term.account_id)
        chance = _likelihood(policy, tier, signals.get(term.account_id, Counter()))
        totals = by_tier[tier or "unscored"]
        totals[0] += 1
        totals[1] += term.arr
        totals[2] += (term.arr * Decimal(str(chance))).quantize(Decimal("0.01"))
    expected = sum((totals[2] for totals in by_tier.values()), Decimal(0))
    forecast = RenewalForecast(
        period=period.label,
        as_of=moment,
        contracts=len(ending),
        arr=sum((term.arr for term, _ in ending), Decimal(0)),
        expected_arr=expected,
        by_tier={
            tier: TierForecast(int(totals[0]), totals[1], totals[2])
            for tier, totals in sorted(by_tier.items())
        },
    )
    if period.end + policy.grace > datetime.now(UTC).date():
        return forecast  # the outcome is not known yet
    renewed = [
        term for term, others in ending if renewal_outcome(term, others, policy.grace).renewed
    ]
    actual = sum((term.arr for term in renewed), Decimal(0))
    accuracy = None if not actual else max(0.0, 1 - float(abs(expected - actual) / actual))
    return replace(forecast, actual_arr=actual, renewed=len(renewed), accuracy=accuracy)


@dataclass(frozen=True, slots=True)
class ExpansionLead:
    """An account with expansion in sight: open expansion opportunities or expansion signals."""

    account_id: int
    account: str
    owner: str | None
    open_opportunities: int
    pipeline: Decimal
    """The amount of its open expansion opportunities."""
    signals: tuple[str, ...]


def expansion_pipeline(
    store: Store,
    *,
    as_of: datetime | None = None,
    segment: Segment | str | None = None,
    owner: str | None = None,
) -> list[ExpansionLead]:
    """Accounts with open expansion opportunities or open expansion signals, largest first."""
    moment = utc_moment(as_of, "as_of")
    store.check_ready()
    mine = accounts_of(segment, owner).scalar_subquery()
    with store.transaction(read_only=True) as session:
        pipeline: dict[int, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
        for account, amount in session.execute(
            select(Opportunity.account_id, Opportunity.amount).where(
                Opportunity.account_id.in_(mine),
                Opportunity.type == OpportunityType.EXPANSION,
                Opportunity.outcome == OpportunityOutcome.OPEN,
            )
        ):
            if account is not None:
                pipeline[account][0] += 1
                pipeline[account][1] += amount
        signals: dict[int, set[str]] = defaultdict(set)
        for account, kind in session.execute(
            select(Signal.account_id, Signal.kind).where(
                Signal.account_id.in_(mine),
                Signal.kind.in_(EXPANSION_SIGNALS),
                Signal.first_seen_at <= moment,
                (Signal.resolved_at.is_(None)) | (Signal.resolved_at > moment),
            )
        ):
            signals[account].add(kind)
        leads = set(pipeline) | set(signals)
        names = {
            row.id: row
            for row in session.execute(
                select(Account.id, Account.source, Account.external_id, Account.owner).where(
                    Account.id.in_(mine)
                )
            )
            if row.id in leads
        }
    return sorted(
        (
            ExpansionLead(
                account_id=account,
                account=f"{names[account].source}:{names[account].external_id}",
                owner=names[account].owner,
                open_opportunities=int(pipeline[account][0]) if account in pipeline else 0,
                pipeline=pipeline[account][1] if account in pipeline else Decimal(0),
                signals=tuple(sorted(signals.get(account, ()))),
            )
            for account in leads
        ),
        key=lambda lead: (-lead.pipeline, -len(lead.signals), lead.account),
    )
