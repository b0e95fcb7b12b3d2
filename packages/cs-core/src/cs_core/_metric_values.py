"""Computing metrics from the store, set-based, for a range of accounts at an as-of time.

Each provider computes a family of metrics with one or two aggregate queries over a range of
account ids, so that a scoring run costs a constant number of queries per chunk of accounts,
whatever its size. Only data stamped at or before the as-of time counts, so that any past day
can be scored from what is stored (contacts' roles and status are the exception: the store keeps
their current state, not its history).

Rollups give distinct users per day, not per month: "active users" over 30 days is the peak of
daily active users, a lower bound of monthly actives that holds for sources that only send
aggregates.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.elements import ColumnElement

from cs_core._enums import (
    ContactStatus,
    OpportunityOutcome,
    OpportunityType,
    SurveyKind,
    TicketPriority,
)
from cs_core._markers import MetricProvider, RegisterMetric, hookimpl
from cs_core._metrics import BUILTIN_METRICS
from cs_core._policies import load_policies
from cs_core._sql import Epoch
from cs_core._store import Store
from cs_core._tables import (
    Account,
    Contact,
    Opportunity,
    ProductFeature,
    SurveyResponse,
    Ticket,
    UsageDaily,
    UsageFeatureDaily,
)
from cs_core._types import utc_moment

__all__ = [
    "METRIC_PROVIDERS",
    "WORKFLOW_FEATURE",
    "AccountRange",
    "MetricValues",
    "account_ranges",
    "compute_metrics",
    "cs_register_metrics",
]

MetricValues = dict[int, dict[str, float | None]]
"""Per account id, per metric name, the value (``None``: no data)."""

WORKFLOW_FEATURE = "workflow_run"
"""The usage feature (event name) that counts as an automated workflow running."""

_DAYS_PER_MONTH = 30.4375


@dataclass(frozen=True, slots=True)
class AccountRange:
    """Accounts with ids from ``first`` to ``last``, inclusive; only ``ids`` among them if given."""

    first: int
    last: int
    ids: frozenset[int] | None = None

    def covers(
        self, column: InstrumentedAttribute[int] | InstrumentedAttribute[int | None]
    ) -> ColumnElement[bool]:
        """SQL: ``column`` holds an account id of this range."""
        if self.ids is not None:
            return column.in_(sorted(self.ids))
        return column.between(self.first, self.last)


def account_ranges(store: Store, size: int) -> Iterator[AccountRange]:
    """Every account of the store as consecutive id ranges of ``size`` ids."""
    with store.transaction() as session:
        low, high = session.execute(select(func.min(Account.id), func.max(Account.id))).one()
    for first in range(low or 0, (high or -1) + 1, size):
        yield AccountRange(first, first + size - 1)


Provider = MetricProvider


def _usage(session: Session, accounts: AccountRange, as_of: datetime) -> MetricValues:
    today = as_of.date()
    month_ago, two_months_ago = today - timedelta(days=30), today - timedelta(days=60)
    three_months_ago = today - timedelta(days=90)
    recent = UsageDaily.day >= month_ago
    previous = and_(UsageDaily.day >= two_months_ago, UsageDaily.day < month_ago)
    earliest = UsageDaily.day < three_months_ago + timedelta(days=30)
    rows = session.execute(
        select(
            Account.id,
            Account.licensed_seats,
            func.max(case((recent, UsageDaily.active_users))),
            func.sum(case((recent, UsageDaily.active_users), else_=0)),
            func.sum(case((recent, UsageDaily.events), else_=0)),
            func.sum(case((previous, UsageDaily.events), else_=0)),
            func.sum(case((earliest, UsageDaily.events), else_=0)),
            func.count(case((UsageDaily.day >= two_months_ago, UsageDaily.day))),
        )
        .select_from(Account)
        .outerjoin(
            UsageDaily,
            and_(
                UsageDaily.account_id == Account.id,
                UsageDaily.day >= three_months_ago,
                UsageDaily.day < today,
            ),
        )
        .where(accounts.covers(Account.id))
        .group_by(Account.id, Account.licensed_seats)
    )
    last_active = dict(
        session.execute(
            select(UsageDaily.account_id, func.max(UsageDaily.day))
            .where(
                accounts.covers(UsageDaily.account_id),
                UsageDaily.day < today,
                UsageDaily.active_users > 0,
            )
            .group_by(UsageDaily.account_id)
        ).all()
    )
    values: MetricValues = {}
    for account_id, seats, busiest, user_days, events, previous_events, first_events, days in rows:
        since = _days_since(last_active, account_id, today)
        if not days:
            values[account_id] = {"days_since_last_activity": since}
            continue
        peak = busiest or 0
        values[account_id] = {
            "active_user_ratio": peak / seats if seats else None,
            "dau_mau": (user_days / 30) / peak if peak else 0.0,
            "usage_trend": events / previous_events - 1 if previous_events else None,
            "usage_change_90d": events / first_events - 1 if first_events else None,
            "days_since_last_activity": since,
        }
    return values


def _days_since(last_active: Mapping[int, date], account_id: int, today: date) -> float | None:
    day = last_active.get(account_id)
    return None if day is None else float((today - day).days)


def _features(session: Session, accounts: AccountRange, as_of: datetime) -> MetricValues:
    today = as_of.date()
    month_ago, week_ago = today - timedelta(days=30), today - timedelta(days=7)
    # The product's features: those anyone used in the last 90 days (kept in a small table, so
    # that each chunk need not scan every account's usage).
    product_features = session.scalar(
        select(func.count()).where(
            ProductFeature.last_used >= today - timedelta(days=90),
            ProductFeature.first_used < today,
        )
    )
    rows = session.execute(
        select(
            UsageFeatureDaily.account_id,
            func.count(UsageFeatureDaily.feature.distinct()),
            func.count(
                case(
                    (
                        and_(
                            UsageFeatureDaily.feature == WORKFLOW_FEATURE,
                            UsageFeatureDaily.day >= week_ago,
                            UsageFeatureDaily.events > 0,
                        ),
                        UsageFeatureDaily.day,
                    )
                ).distinct()
            ),
        )
        .where(
            accounts.covers(UsageFeatureDaily.account_id),
            UsageFeatureDaily.day >= month_ago,
            UsageFeatureDaily.day < today,
            UsageFeatureDaily.events > 0,
        )
        .group_by(UsageFeatureDaily.account_id)
    )
    return {
        account_id: {
            "feature_adoption": used / product_features if product_features else None,
            "workflows_running": float(workflow_days),
        }
        for account_id, used, workflow_days in rows
    }


def _tickets(session: Session, accounts: AccountRange, as_of: datetime) -> MetricValues:
    quarter_ago = as_of - timedelta(days=90)
    now = as_of.timestamp()
    opened = Epoch(Ticket.opened_at)
    answered = func.coalesce(
        case((Ticket.first_response_at <= as_of, Epoch(Ticket.first_response_at))), now
    )
    solved = func.coalesce(case((Ticket.solved_at <= as_of, Epoch(Ticket.solved_at))), now)
    # The targets of the policies in force (CS_POLICIES), as the SLA check measures them.
    targets = load_policies().support.sla
    response_target = case(
        *((Ticket.priority == p, t.first_response.total_seconds()) for p, t in targets.items())
    )
    resolution_target = case(
        *((Ticket.priority == p, t.resolution.total_seconds()) for p, t in targets.items())
    )
    recent = Ticket.opened_at > quarter_ago
    last_month = Ticket.opened_at > as_of - timedelta(days=30)
    months_before = and_(
        Ticket.opened_at > as_of - timedelta(days=120),
        Ticket.opened_at <= as_of - timedelta(days=30),
    )
    urgent_open = and_(
        Ticket.priority.in_([TicketPriority.P1, TicketPriority.P2]),
        func.coalesce(case((Ticket.solved_at <= as_of, 1)), 0) == 0,
    )
    breached = and_(
        recent,
        (answered - opened > response_target) | (solved - opened > resolution_target),
    )
    rows = session.execute(
        select(
            Account.id,
            func.count(case((recent, Ticket.id))),
            func.count(case((urgent_open, Ticket.id))),
            func.count(case((breached, Ticket.id))),
            func.count(case((last_month, Ticket.id))),
            func.count(case((months_before, Ticket.id))),
        )
        .select_from(Account)
        .outerjoin(Ticket, and_(Ticket.account_id == Account.id, Ticket.opened_at <= as_of))
        .where(accounts.covers(Account.id))
        .group_by(Account.id)
    )
    return {
        account_id: {
            "tickets_per_month": recent_count / 3,
            "open_p1_p2_tickets": float(urgent),
            "sla_breaches": float(breaches),
            "tickets_last_30_days": float(last_30),
            "ticket_spike_ratio": last_30 / (before / 3) if before else None,
        }
        for account_id, recent_count, urgent, breaches, last_30, before in rows
    }


def _surveys(session: Session, accounts: AccountRange, as_of: datetime) -> MetricValues:
    rows = session.execute(
        select(
            SurveyResponse.account_id,
            func.avg(case((SurveyResponse.survey == SurveyKind.NPS, SurveyResponse.score))),
            func.avg(case((SurveyResponse.survey == SurveyKind.CSAT, SurveyResponse.score * 2))),
        )
        .where(
            accounts.covers(SurveyResponse.account_id),
            SurveyResponse.responded_at <= as_of,
            SurveyResponse.responded_at > as_of - timedelta(days=180),
        )
        .group_by(SurveyResponse.account_id)
    )
    latest = session.execute(
        select(SurveyResponse.account_id, SurveyResponse.score)
        .where(
            accounts.covers(SurveyResponse.account_id),
            SurveyResponse.survey == SurveyKind.NPS,
            SurveyResponse.responded_at <= as_of,
            SurveyResponse.responded_at > as_of - timedelta(days=90),
        )
        .order_by(SurveyResponse.account_id, SurveyResponse.responded_at, SurveyResponse.id)
    )
    latest_nps = {account_id: float(score) for account_id, score in latest if account_id}
    values: MetricValues = {
        account_id: {
            "nps": None if nps is None else float(nps),
            "csat": None if csat is None else float(csat),
        }
        for account_id, nps, csat in rows
    }
    for account_id, score in latest_nps.items():
        values.setdefault(account_id, {})["latest_nps"] = score
    return values


def _relationships(session: Session, accounts: AccountRange, as_of: datetime) -> MetricValues:
    active = Contact.status == ContactStatus.ACTIVE
    engaged = and_(
        active,
        Contact.is_executive_sponsor,
        Contact.last_engaged_at <= as_of,
        Contact.last_engaged_at > as_of - timedelta(days=90),
    )
    rows = session.execute(
        select(
            Account.id,
            func.count(case((and_(active, Contact.is_champion), Contact.id))),
            func.count(case((engaged, Contact.id))),
            func.count(
                case(
                    (
                        and_(Contact.is_champion, Contact.status == ContactStatus.LEFT_COMPANY),
                        Contact.id,
                    )
                )
            ),
        )
        .select_from(Account)
        .outerjoin(Contact, Contact.account_id == Account.id)
        .where(accounts.covers(Account.id))
        .group_by(Account.id)
    )
    return {
        account_id: {
            "champion_present": 1.0 if champions else 0.0,
            "executive_sponsor_engaged": 1.0 if sponsors else 0.0,
            "champions_left": float(left),
        }
        for account_id, champions, sponsors, left in rows
    }


def _commercial(session: Session, accounts: AccountRange, as_of: datetime) -> MetricValues:
    today = as_of.date()
    won = and_(Opportunity.outcome == OpportunityOutcome.WON, Opportunity.close_date <= today)
    expansion = Opportunity.type == OpportunityType.EXPANSION
    rows = session.execute(
        select(
            Account.id,
            Account.renewal_date,
            func.max(
                case(
                    (
                        and_(won, expansion),
                        Opportunity.close_date,
                    )
                )
            ),
            func.min(case((won, Opportunity.close_date))),
            Account.contract_start,
        )
        .select_from(Account)
        .outerjoin(Opportunity, Opportunity.account_id == Account.id)
        .where(accounts.covers(Account.id))
        .group_by(Account.id, Account.renewal_date, Account.contract_start)
    )
    values: MetricValues = {}
    for account_id, renewal, last_expansion, first_win, contract_start in rows:
        since = last_expansion or first_win or contract_start
        values[account_id] = {
            "days_to_renewal": None if renewal is None else float((renewal - today).days),
            "months_since_last_expansion": None
            if since is None or since > today
            else (today - since).days / _DAYS_PER_MONTH,
        }
    return values


METRIC_PROVIDERS: Mapping[Provider, tuple[str, ...]] = {
    _usage: ("active_user_ratio", "dau_mau", "usage_trend", "usage_change_90d",
             "days_since_last_activity"),
    _features: ("feature_adoption", "workflows_running"),
    _tickets: ("tickets_per_month", "open_p1_p2_tickets", "sla_breaches",
               "tickets_last_30_days", "ticket_spike_ratio"),
    _surveys: ("nps", "csat", "latest_nps"),
    _relationships: ("champion_present", "executive_sponsor_engaged", "champions_left"),
    _commercial: ("days_to_renewal", "months_since_last_expansion"),
}  # fmt: skip
"""Each built-in provider and the metrics it computes."""


@hookimpl
def cs_register_metrics(register: RegisterMetric) -> None:
    """Register the built-in metrics computed from the store."""
    definitions = {metric.name: metric for metric in BUILTIN_METRICS}
    for provider, names in METRIC_PROVIDERS.items():
        for name in names:
            register(definitions[name], provider)


def compute_metrics(
    session: Session,
    accounts: AccountRange,
    as_of: datetime,
    providers: Iterable[Provider] | None = None,
) -> MetricValues:
    """Every metric of ``providers`` (default: the built-ins) for the accounts in range."""
    moment = utc_moment(as_of, "as_of")
    values: MetricValues = defaultdict(dict)
    for provider in METRIC_PROVIDERS if providers is None else providers:
        for account_id, metrics in provider(session, accounts, moment).items():
            values[account_id].update(metrics)
    return dict(values)
