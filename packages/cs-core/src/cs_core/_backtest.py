"""Backtests: would this scorecard have seen the churn coming?

Every account is scored at past observation dates from the data stored up to each date, and
each score is joined with what happened next: whether the account churned, a contract ending
without renewal, within the horizon. A model worth trusting gives churners lower scores (ROC AUC
well above 0.5) and concentrates churn in its worst tier (lift above 1).

An account churns on the end date of a contract that expired or was cancelled and that no other
contract of the account renewed (one starting within 30 days before that end, or after it).
Accounts that had churned before an observation date are not observed on it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select

from cs_core._book import contract_terms, renewal_outcome
from cs_core._enums import ContractStatus
from cs_core._errors import CSError
from cs_core._markers import MetricProvider
from cs_core._metric_registry import MetricRegistry, installed_metrics
from cs_core._metric_values import AccountRange, compute_metrics
from cs_core._policies import load_policies
from cs_core._scorecard import Scorecard
from cs_core._scoring import score_account
from cs_core._store import Store
from cs_core._tables import Account

__all__ = [
    "BacktestReport",
    "Observation",
    "TierOutcome",
    "backtest",
    "churn_dates",
    "observation_days",
    "observe",
    "roc_auc",
]


@dataclass(frozen=True, slots=True)
class TierOutcome:
    """Observations that landed in one tier, and how many of them churned."""

    tier: str
    observations: int
    churned: int

    @property
    def churn_rate(self) -> float:
        return self.churned / self.observations if self.observations else 0.0


@dataclass(frozen=True, slots=True)
class BacktestReport:
    """How well a scorecard's past scores predicted churn."""

    scorecard_id: str
    horizon_days: int
    observation_dates: tuple[date, ...]
    observations: int
    churned: int
    auc: float | None
    """ROC AUC of the score as a predictor of churn (``None`` without both outcomes)."""
    tiers: tuple[TierOutcome, ...] = field(default_factory=tuple)
    """From the best tier to the worst."""

    @property
    def churn_rate(self) -> float:
        return self.churned / self.observations if self.observations else 0.0

    @property
    def worst_tier(self) -> TierOutcome | None:
        """The lowest tier that any observation landed in."""
        return next((t for t in reversed(self.tiers) if t.observations), None)

    @property
    def lift(self) -> float | None:
        """Churn rate of the worst tier observed over the overall churn rate."""
        worst = self.worst_tier
        if worst is None or not self.churn_rate:
            return None
        return worst.churn_rate / self.churn_rate


def churn_dates(store: Store, *, grace: timedelta | None = None) -> dict[int, date]:
    """Per account that churned, the day it did: the end of its first contract that expired or
    was cancelled without renewing (see :func:`renewal_outcome`; ``grace`` defaults to the
    policies' ``renewals.grace_days``)."""
    window = grace if grace is not None else load_policies().renewals.grace
    with store.transaction() as session:
        terms = contract_terms(session)
    churned: dict[int, date] = {}
    for account, account_terms in terms.items():
        for term in account_terms:
            if term.status not in (ContractStatus.EXPIRED, ContractStatus.CANCELLED):
                continue
            if renewal_outcome(term, account_terms, window).renewed:
                continue
            if account not in churned or term.end < churned[account]:
                churned[account] = term.end
    return churned


def roc_auc(scores: Sequence[float], churned: Sequence[bool]) -> float | None:
    """The chance that a churner scored lower than a non-churner (ties count half).

    Computed from ranks (Mann-Whitney U), so it costs a sort, not a pairwise comparison.
    """
    positives = sum(churned)
    negatives = len(churned) - positives
    if not positives or not negatives:
        return None
    # Risk is the opposite of health: rank by descending score.
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    ranks = [0.0] * len(scores)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and scores[order[end + 1]] == scores[order[start]]:
            end += 1
        for position in range(start, end + 1):
            ranks[order[position]] = (start + end) / 2 + 1
        start = end + 1
    rank_sum = sum(rank for rank, label in zip(ranks, churned, strict=True) if label)
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


@dataclass(frozen=True, slots=True)
class Observation:
    """An account's metrics at an observation time, and whether it churned within the horizon."""

    account_id: int
    moment: datetime
    values: dict[str, float | None]
    churned: bool


def observe(
    store: Store,
    dates: Sequence[date],
    horizon_days: int,
    providers: list[MetricProvider],
    *,
    chunk_size: int = 5000,
) -> Iterator[Observation]:
    """Every account still a customer on each of ``dates``, with its metrics and its outcome."""
    churn = churn_dates(store)
    with store.transaction() as session:
        low, high = session.execute(select(func.min(Account.id), func.max(Account.id))).one()
    for observed in dates:
        moment = datetime(observed.year, observed.month, observed.day, tzinfo=UTC)
        horizon_end = observed + timedelta(days=horizon_days)
        for first in range(low or 0, (high or -1) + 1, chunk_size):
            with store.transaction() as session:
                accounts = AccountRange(first, first + chunk_size - 1)
                values = compute_metrics(session, accounts, moment, providers)
                ids = session.scalars(select(Account.id).where(accounts.covers(Account.id))).all()
            for account_id in ids:
                churned_on = churn.get(account_id)
                if churned_on is not None and churned_on <= observed:
                    continue
                yield Observation(
                    account_id=account_id,
                    moment=moment,
                    values=values.get(account_id, {}),
                    churned=churned_on is not None and churned_on <= horizon_end,
                )


def observation_days(horizon_days: int, days: Sequence[date] | None) -> tuple[date, ...]:
    """``days`` (default: three, 30 days apart, the latest one horizon before today), checked."""
    if horizon_days < 1:
        raise CSError(f"the horizon is at least 1 day, not {horizon_days}")
    today = datetime.now(UTC).date()
    chosen = tuple(
        sorted(set(days or [today - timedelta(days=horizon_days + 30 * step) for step in range(3)]))
    )
    late = [day for day in chosen if day + timedelta(days=horizon_days) > today]
    if late:
        raise CSError(
            f"observation date {late[0].isoformat()} is too recent: its {horizon_days}-day "
            "horizon has not passed yet"
        )
    return chosen


def backtest(
    store: Store,
    scorecard: Scorecard,
    *,
    horizon_days: int = 90,
    observation_dates: Sequence[date] | None = None,
    metrics: MetricRegistry | None = None,
    chunk_size: int = 5000,
) -> BacktestReport:
    """Score every account with ``scorecard`` at each observation date and test it on churn.

    The default observation dates are the three days, 30 days apart, whose horizons end by today.
    """
    dates = observation_days(horizon_days, observation_dates)
    providers = (metrics or installed_metrics()).providers_for(scorecard.metrics)
    scores: list[float] = []
    labels: list[bool] = []
    tiers: Counter[tuple[str, bool]] = Counter()
    for observation in observe(store, dates, horizon_days, providers, chunk_size=chunk_size):
        health = score_account(scorecard, observation.values, as_of=observation.moment)
        if health.score is None or health.tier is None:
            continue
        scores.append(health.score)
        labels.append(observation.churned)
        tiers[(health.tier, observation.churned)] += 1
    outcomes = tuple(
        TierOutcome(
            tier=tier.name,
            observations=tiers[(tier.name, True)] + tiers[(tier.name, False)],
            churned=tiers[(tier.name, True)],
        )
        for tier in scorecard.ordered_tiers
    )
    return BacktestReport(
        scorecard_id=scorecard.id,
        horizon_days=horizon_days,
        observation_dates=dates,
        observations=len(scores),
        churned=sum(labels),
        auc=roc_auc(scores, labels),
        tiers=outcomes,
    )
