"""Customer success KPIs for a period, a segment and an owner, and each CSM's portfolio.

Every KPI is computed from the store with the formula given in ``docs/kpis.md``; a KPI whose
denominator is empty is ``None`` (no data), never 0. Revenue KPIs follow the cohort of accounts
that had recurring revenue on the period's first day: their annual recurring revenue (the sum of
their contracts in force that day) against the same sum on the period's last day.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from statistics import median
from typing import Any

from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session

from cs_core._book import ContractTerm, accounts_of, contract_terms, renewal_outcome
from cs_core._enums import (
    OnboardingMilestone,
    OpportunityOutcome,
    OpportunityType,
    Segment,
    SurveyKind,
    TaskStatus,
)
from cs_core._errors import InvalidArgumentError
from cs_core._lifecycle import customer_since, milestone_completions
from cs_core._overrides import override_in_force
from cs_core._period import Period
from cs_core._policies import Policies, load_policies
from cs_core._store import Store
from cs_core._tables import (
    Account,
    HealthHistory,
    HealthOverride,
    HealthScoreRow,
    Opportunity,
    Signal,
    SurveyResponse,
    Task,
    Ticket,
    TicketEscalation,
    UsageDaily,
)
from cs_core._types import utc_midnight, utc_moment

__all__ = ["KpiReport", "PortfolioRow", "compute_kpis", "kpis_by", "portfolio"]

_ZERO = Decimal(0)
_AT_RISK_TIERS = ("Yellow", "Red")


@dataclass(frozen=True, slots=True)
class KpiReport:
    """The KPIs of one period for the accounts of one segment and owner (``None``: all)."""

    period: str
    start: date
    end: date
    segment: str | None
    owner: str | None
    # Revenue retention, over the cohort with revenue on the first day.
    starting_accounts: int
    starting_arr: Decimal
    ending_arr: Decimal
    churned_accounts: int
    churned_arr: Decimal
    contraction_arr: Decimal
    expansion_arr: Decimal
    grr: float | None
    nrr: float | None
    logo_churn_rate: float | None
    revenue_churn_rate: float | None
    # Renewals of contracts that ended in the period.
    renewals_due: int
    renewals_won: int
    renewal_rate: float | None
    on_time_renewal_rate: float | None
    # Expansion: won expansion opportunities closed in the period.
    expansion_rate: float | None
    average_expansion: Decimal | None
    average_expansion_share: float | None
    # Onboarding and adoption.
    time_to_value_days: float | None
    time_to_value_accounts: int
    adoption: float | None
    health_distribution: dict[str, int] = field(default_factory=dict)
    # Voice of the customer and support.
    nps: float | None = None
    nps_responses: int = 0
    csat: float | None = None
    csat_responses: int = 0
    first_response_hours: float | None = None
    resolution_hours: float | None = None
    first_contact_resolution: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain values for JSON: days as ISO strings, money as strings of cents."""
        return {
            name: value.isoformat() if isinstance(value, date) else
            str(value) if isinstance(value, Decimal) else value
            for name, value in asdict(self).items()
        }  # fmt: skip


def _share(part: float | Decimal, whole: float | Decimal) -> float | None:
    return float(part) / float(whole) if whole else None


def _arr(terms: list[ContractTerm], day: date) -> Decimal:
    return sum((term.arr for term in terms if term.active_on(day)), _ZERO)


def compute_kpis(
    store: Store,
    period: Period,
    *,
    segment: Segment | str | None = None,
    owner: str | None = None,
    policies: Policies | None = None,
) -> KpiReport:
    """The KPIs of ``period`` for the accounts of ``segment`` and ``owner`` (default: all)."""
    chosen = None if segment is None else Segment(segment)
    grace = (policies or load_policies()).renewals.grace
    store.check_ready()
    with store.transaction(read_only=True) as session:
        accounts = accounts_of(chosen, owner)
        terms = contract_terms(session, accounts)
        return KpiReport(
            period=period.label,
            start=period.start,
            end=period.last_day,
            segment=None if chosen is None else chosen.value,
            owner=owner,
            **_retention(session, period, terms, accounts),
            **_renewals(period, terms, grace),
            **_time_to_value(session, period, accounts),
            adoption=_adoption(session, period, terms, accounts),
            health_distribution=_health_distribution(session, period, accounts),
            **_voice(session, period, accounts),
            **_support(session, period, accounts),
        )


def _retention(
    session: Session,
    period: Period,
    terms: dict[int, list[ContractTerm]],
    accounts: Select[int],
) -> dict[str, Any]:
    starting = {account: _arr(ts, period.start) for account, ts in terms.items()}
    cohort = {account: arr for account, arr in starting.items() if arr > 0}
    ending = {account: _arr(terms[account], period.last_day) for account in cohort}
    churned = [account for account in cohort if ending[account] == 0]
    start_arr = sum(cohort.values(), _ZERO)
    churned_arr = sum((cohort[account] for account in churned), _ZERO)
    contraction = sum((cohort[a] - ending[a] for a in cohort if 0 < ending[a] < cohort[a]), _ZERO)
    expansion = sum((ending[a] - cohort[a] for a in cohort if ending[a] > cohort[a]), _ZERO)
    end_arr = sum(ending.values(), _ZERO)
    won = session.execute(
        select(Opportunity.account_id, Opportunity.amount).where(
            Opportunity.account_id.in_(accounts.scalar_subquery()),
            Opportunity.type == OpportunityType.EXPANSION,
            Opportunity.outcome == OpportunityOutcome.WON,
            Opportunity.close_date >= period.start,
            Opportunity.close_date < period.end,
        )
    ).all()
    expansions = [(account, amount) for account, amount in won if account in cohort]
    expanded = {account for account, _ in expansions}
    return {
        "starting_accounts": len(cohort),
        "starting_arr": start_arr,
        "ending_arr": end_arr,
        "churned_accounts": len(churned),
        "churned_arr": churned_arr,
        "contraction_arr": contraction,
        "expansion_arr": expansion,
        "grr": _share(start_arr - churned_arr - contraction, start_arr),
        "nrr": _share(end_arr, start_arr),
        "logo_churn_rate": _share(len(churned), len(cohort)),
        "revenue_churn_rate": _share(churned_arr, start_arr),
        "expansion_rate": _share(len(expanded), len(cohort)),
        "average_expansion": (
            (sum((amount for _, amount in expansions), _ZERO) / len(expansions)).quantize(
                Decimal("0.01")
            )
            if expansions
            else None
        ),
        "average_expansion_share": (
            sum(float(amount / cohort[account]) for account, amount in expansions) / len(expansions)
            if expansions
            else None
        ),
    }


def _renewals(
    period: Period, terms: dict[int, list[ContractTerm]], grace: timedelta
) -> dict[str, Any]:
    outcomes = [
        renewal_outcome(term, account_terms, grace)
        for account_terms in terms.values()
        for term in account_terms
        if period.start <= term.end < period.end
    ]
    won = [outcome for outcome in outcomes if outcome.renewed]
    dated = [outcome for outcome in won if outcome.on_time is not None]
    return {
        "renewals_due": len(outcomes),
        "renewals_won": len(won),
        "renewal_rate": _share(len(won), len(outcomes)),
        "on_time_renewal_rate": _share(sum(bool(o.on_time) for o in dated), len(dated)),
    }


def _time_to_value(session: Session, period: Period, accounts: Select[int]) -> dict[str, Any]:
    """Days from becoming a customer (in the period) to the first value milestone."""
    since = {
        account: day
        for account, day in customer_since(session, accounts).items()
        if period.start <= day < period.end
    }
    reached = milestone_completions(session, accounts, utc_midnight(period.end), since)
    days = [
        (done[OnboardingMilestone.FIRST_VALUE].at.date() - since[account]).days
        for account, done in reached.items()
        if account in since and OnboardingMilestone.FIRST_VALUE in done
    ]
    return {
        "time_to_value_days": float(median(days)) if days else None,
        "time_to_value_accounts": len(days),
    }


def _adoption(
    session: Session,
    period: Period,
    terms: dict[int, list[ContractTerm]],
    accounts: Select[int],
) -> float | None:
    """Active users in the period's last 30 days (daily peak) over licensed seats."""
    paying = {account for account, ts in terms.items() if _arr(ts, period.last_day) > 0}
    peak = (
        select(UsageDaily.account_id, func.max(UsageDaily.active_users).label("users"))
        .where(UsageDaily.day > period.last_day - timedelta(days=30))
        .where(UsageDaily.day <= period.last_day)
        .group_by(UsageDaily.account_id)
        .subquery()
    )
    rows = session.execute(
        select(Account.id, Account.licensed_seats, func.coalesce(peak.c.users, 0))
        .outerjoin(peak, peak.c.account_id == Account.id)
        .where(Account.id.in_(accounts.scalar_subquery()), Account.licensed_seats > 0)
    ).all()
    seats = sum(row[1] for row in rows if row[0] in paying)
    active = sum(min(row[2], row[1]) for row in rows if row[0] in paying)
    return _share(active, seats)


def _health_distribution(session: Session, period: Period, accounts: Select[int]) -> dict[str, int]:
    """Accounts per tier by their last score before the period ended."""
    tiers: dict[int, str | None] = {}
    for account, tier in session.execute(
        select(HealthHistory.account_id, HealthHistory.tier)
        .where(
            HealthHistory.account_id.in_(accounts.scalar_subquery()),
            HealthHistory.as_of < utc_midnight(period.end),
        )
        .order_by(HealthHistory.account_id, HealthHistory.as_of, HealthHistory.id)
    ):
        tiers[account] = tier
    return dict(Counter(tier or "none" for tier in tiers.values()))


def _voice(session: Session, period: Period, accounts: Select[int]) -> dict[str, Any]:
    scores = session.execute(
        select(SurveyResponse.survey, SurveyResponse.score).where(
            SurveyResponse.account_id.in_(accounts.scalar_subquery()),
            SurveyResponse.responded_at >= utc_midnight(period.start),
            SurveyResponse.responded_at < utc_midnight(period.end),
        )
    ).all()
    nps = [score for survey, score in scores if survey is SurveyKind.NPS]
    csat = [score for survey, score in scores if survey is SurveyKind.CSAT]
    promoters, detractors = sum(s >= 9 for s in nps), sum(s <= 6 for s in nps)
    return {
        "nps": 100 * (promoters - detractors) / len(nps) if nps else None,
        "nps_responses": len(nps),
        "csat": _share(sum(s >= 4 for s in csat), len(csat)),
        "csat_responses": len(csat),
    }


def _support(session: Session, period: Period, accounts: Select[int]) -> dict[str, Any]:
    start, end = utc_midnight(period.start), utc_midnight(period.end)
    mine = Ticket.account_id.in_(accounts.scalar_subquery())
    responses = [
        (answered - opened).total_seconds() / 3600
        for opened, answered in session.execute(
            select(Ticket.opened_at, Ticket.first_response_at).where(
                mine,
                Ticket.opened_at >= start,
                Ticket.opened_at < end,
                Ticket.first_response_at < end,
            )
        )
        if answered is not None
    ]
    solved = session.execute(
        select(Ticket.opened_at, Ticket.solved_at, Ticket.replies).where(
            mine, Ticket.solved_at >= start, Ticket.solved_at < end
        )
    ).all()
    counted = [replies for _, _, replies in solved if replies is not None]
    return {
        "first_response_hours": median(responses) if responses else None,
        "resolution_hours": (
            median(
                (done - opened).total_seconds() / 3600
                for opened, done, _ in solved
                if done is not None
            )
            if solved
            else None
        ),
        "first_contact_resolution": _share(sum(r <= 1 for r in counted), len(counted)),
    }


def kpis_by(
    store: Store,
    period: Period,
    by: str,
    *,
    segment: Segment | str | None = None,
    owner: str | None = None,
    policies: Policies | None = None,
) -> list[KpiReport]:
    """The KPIs of ``period`` for each segment or each owner (``by``), within the filters."""
    if by not in ("segment", "owner"):
        raise InvalidArgumentError(f"KPIs can be broken down by segment or owner, not {by!r}")
    store.check_ready()
    with store.transaction(read_only=True) as session:
        column = Account.segment if by == "segment" else Account.owner
        groups = sorted(
            value
            for value in session.scalars(
                accounts_of(None if segment is None else Segment(segment), owner)
                .with_only_columns(column)
                .distinct()
            )
            if value is not None
        )
    return [
        compute_kpis(
            store,
            period,
            segment=group if by == "segment" else segment,
            owner=group if by == "owner" else owner,
            policies=policies,
        )
        for group in groups
    ]


@dataclass(frozen=True, slots=True)
class PortfolioRow:
    """One CSM's book of business."""

    owner: str
    accounts: int
    arr: Decimal
    at_risk: int
    """Accounts whose effective health (an override in force, else the score) is Yellow or Red."""
    open_signals: int
    escalated_tickets: int
    """Unsolved tickets escalated beyond the first level."""
    renewals_next_90_days: int
    open_tasks: int
    """Open and snoozed tasks the CSM holds."""

    @property
    def workload(self) -> int:
        """What asks for the CSM's attention: the tasks they hold and escalated tickets."""
        return self.open_tasks + self.escalated_tickets


def portfolio(store: Store, *, as_of: datetime | None = None) -> list[PortfolioRow]:
    """Per owner, their live accounts, ARR, accounts at risk and workload, as of ``as_of``."""
    moment = utc_moment(as_of, "as_of")
    today = moment.date()
    store.check_ready()
    with store.transaction(read_only=True) as session:
        owners: dict[int, str] = {
            account: owner
            for account, owner in session.execute(
                select(Account.id, Account.owner).where(Account.owner.is_not(None))
            )
            if owner is not None
        }
        terms = contract_terms(session)
        live = {account for account, ts in terms.items() if _arr(ts, today) > 0}
        tier = func.coalesce(HealthOverride.tier, HealthScoreRow.tier)
        at_risk = set(
            session.scalars(
                select(HealthScoreRow.account_id)
                .outerjoin(
                    HealthOverride,
                    and_(
                        HealthOverride.account_id == HealthScoreRow.account_id,
                        override_in_force(moment),
                    ),
                )
                .where(tier.in_(_AT_RISK_TIERS))
            )
        )
        signals = Counter(
            session.scalars(
                select(Signal.account_id).where(
                    Signal.first_seen_at <= moment,
                    (Signal.resolved_at.is_(None)) | (Signal.resolved_at > moment),
                )
            )
        )
        escalated = Counter(
            account
            for account, _ in session.execute(
                select(TicketEscalation.account_id, TicketEscalation.ticket_id)
                .join(Ticket, Ticket.id == TicketEscalation.ticket_id)
                .where(
                    TicketEscalation.escalated_at <= moment,
                    (Ticket.solved_at.is_(None)) | (Ticket.solved_at > moment),
                )
                .distinct()
            )
        )
        held = Counter(
            session.scalars(
                select(Task.owner).where(
                    Task.status.in_((TaskStatus.OPEN, TaskStatus.SNOOZED)),
                    Task.owner.is_not(None),
                )
            )
        )
    rows: dict[str, list[int]] = {}
    for account in live:
        rows.setdefault(owners[account], []).append(account)
    return [
        PortfolioRow(
            owner=owner,
            accounts=len(book),
            arr=sum((_arr(terms[account], today) for account in book), _ZERO),
            at_risk=sum(account in at_risk for account in book),
            open_signals=sum(signals[account] for account in book),
            escalated_tickets=sum(escalated[account] for account in book),
            renewals_next_90_days=sum(
                any(today <= term.end < today + timedelta(days=90) for term in terms[account])
                for account in book
            ),
            open_tasks=held[owner],
        )
        for owner, book in sorted(rows.items())
    ]
