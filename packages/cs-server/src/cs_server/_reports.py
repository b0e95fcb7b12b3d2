"""What CS leaders run the team on: KPIs, each CSM's portfolio, and the playbooks with their runs.

Each query computes with cs-core's own report functions (``compute_kpis``, ``portfolio``,
``playbook_runs``, ``preview_playbook``…) in a worker thread, so the API and ``cs kpis`` or
``cs playbooks`` always agree; the formulas are in the documentation's KPI and playbook pages.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Annotated, cast

import strawberry
from anyio import to_thread
from strawberry.scalars import JSON

from cs_core import (
    Action,
    Condition,
    ConfigurationError,
    KpiReport,
    Period,
    Playbook,
    PlaybookHit,
    PortfolioRow,
    Segment,
    Trigger,
    compute_kpis,
    installed_playbooks,
    kpis_by,
    playbook_runs,
    portfolio,
    preview_playbook,
)
from cs_core import PlaybookRun as PlaybookRunRow
from cs_server._context import Info
from cs_server._pages import check_page_size
from cs_server._results import PlaybookNotFound, Rejected
from cs_server._types import encode_id

__all__ = [
    "KpiBreakdown",
    "PlaybookHitView",
    "PlaybookPreviewResult",
    "TierCount",
    "kpis",
    "playbook",
    "playbook_preview",
    "playbook_runs_list",
    "playbooks",
    "portfolios",
]


@strawberry.enum(description="How to break KPIs down: one report in all, or one per group.")
class KpiBreakdown(Enum):
    NONE = "none"
    SEGMENT = "segment"
    OWNER = "owner"


@strawberry.type(description="How many accounts are in one health tier.")
class TierCount:
    tier: str = strawberry.field(description="The tier, or none for accounts without a score.")
    accounts: int


@strawberry.type(
    description="The KPIs of one period for the accounts of a segment and an owner (null: "
    "all). A KPI whose denominator is empty is null, never 0. Revenue KPIs follow the cohort "
    "of accounts with ARR on the period's first day."
)
class Kpis:
    period: str
    start: date
    end: date = strawberry.field(description="The period's last day.")
    segment: Segment | None
    owner: str | None
    starting_accounts: int = strawberry.field(description="Accounts of the revenue cohort.")
    starting_arr: Decimal
    ending_arr: Decimal = strawberry.field(description="The cohort's ARR on the last day.")
    churned_accounts: int
    churned_arr: Decimal
    contraction_arr: Decimal
    expansion_arr: Decimal
    grr: float | None = strawberry.field(
        description="Gross revenue retention: (starting - churned - contraction) / starting ARR."
    )
    nrr: float | None = strawberry.field(description="Net revenue retention: ending / starting.")
    logo_churn_rate: float | None
    revenue_churn_rate: float | None
    renewals_due: int = strawberry.field(description="Contracts that ended in the period.")
    renewals_won: int
    renewal_rate: float | None
    on_time_renewal_rate: float | None
    expansion_rate: float | None = strawberry.field(
        description="Cohort accounts with a won expansion deal closed in the period, as a share."
    )
    average_expansion: Decimal | None
    average_expansion_share: float | None = strawberry.field(
        description="Average expansion as a share of the account's starting ARR."
    )
    time_to_value_days: float | None = strawberry.field(
        description="Median days from becoming a customer (in the period) to first value."
    )
    time_to_value_accounts: int
    adoption: float | None = strawberry.field(
        description="Peak daily active users of the last 30 days (at most the seats) over seats."
    )
    health_distribution: list[TierCount] = strawberry.field(
        description="Accounts per tier of their last score before the period ended."
    )
    nps: float | None
    nps_responses: int
    csat: float | None = strawberry.field(description="Share of CSAT answers of 4 or 5 (of 5).")
    csat_responses: int
    first_response_hours: float | None = strawberry.field(description="Median, tickets opened.")
    resolution_hours: float | None = strawberry.field(description="Median, tickets solved.")
    first_contact_resolution: float | None = strawberry.field(
        description="Share of solved tickets with one agent reply."
    )

    @classmethod
    def of(cls, report: KpiReport) -> Kpis:
        return cls(
            period=report.period, start=report.start, end=report.end,
            segment=None if report.segment is None else Segment(report.segment),
            owner=report.owner, starting_accounts=report.starting_accounts,
            starting_arr=report.starting_arr, ending_arr=report.ending_arr,
            churned_accounts=report.churned_accounts, churned_arr=report.churned_arr,
            contraction_arr=report.contraction_arr, expansion_arr=report.expansion_arr,
            grr=report.grr, nrr=report.nrr, logo_churn_rate=report.logo_churn_rate,
            revenue_churn_rate=report.revenue_churn_rate, renewals_due=report.renewals_due,
            renewals_won=report.renewals_won, renewal_rate=report.renewal_rate,
            on_time_renewal_rate=report.on_time_renewal_rate,
            expansion_rate=report.expansion_rate, average_expansion=report.average_expansion,
            average_expansion_share=report.average_expansion_share,
            time_to_value_days=report.time_to_value_days,
            time_to_value_accounts=report.time_to_value_accounts, adoption=report.adoption,
            health_distribution=[TierCount(tier=tier, accounts=count) for tier, count
                                 in sorted(report.health_distribution.items())],
            nps=report.nps, nps_responses=report.nps_responses, csat=report.csat,
            csat_responses=report.csat_responses,
            first_response_hours=report.first_response_hours,
            resolution_hours=report.resolution_hours,
            first_contact_resolution=report.first_contact_resolution,
        )  # fmt: skip


async def kpis(
    info: Info,
    period: Annotated[
        str, strawberry.argument(description="2026-Q3, 2026-07, 2026 or 2026-07-01..2026-09-30.")
    ],
    by: KpiBreakdown = KpiBreakdown.NONE,
    segment: Segment | None = None,
    owner: Annotated[str | None, strawberry.argument(description="A CSM's e-mail.")] = None,
) -> list[Kpis]:
    chosen = Period.parse(period)
    store = info.context.store

    def compute() -> list[KpiReport]:
        if by is KpiBreakdown.NONE:
            return [compute_kpis(store, chosen, segment=segment, owner=owner)]
        return kpis_by(store, chosen, by.value, segment=segment, owner=owner)

    return [Kpis.of(report) for report in await to_thread.run_sync(compute)]


@strawberry.type(description="One CSM's book of business.")
class Portfolio:
    owner: str
    accounts: int = strawberry.field(description="Live accounts: with ARR on the day.")
    arr: Decimal
    at_risk: int = strawberry.field(
        description="Accounts whose effective health (an override in force, else the score) is "
        "Yellow or Red."
    )
    open_signals: int
    escalated_tickets: int = strawberry.field(
        description="Unsolved tickets escalated beyond the first level."
    )
    renewals_next_90_days: int
    open_tasks: int = strawberry.field(description="Open and snoozed tasks the CSM holds.")
    workload: int = strawberry.field(description="Open tasks plus escalated tickets.")

    @classmethod
    def of(cls, row: PortfolioRow) -> Portfolio:
        return cls(owner=row.owner, accounts=row.accounts, arr=row.arr, at_risk=row.at_risk,
                   open_signals=row.open_signals, escalated_tickets=row.escalated_tickets,
                   renewals_next_90_days=row.renewals_next_90_days, open_tasks=row.open_tasks,
                   workload=row.workload)  # fmt: skip


async def portfolios(
    info: Info,
    as_of: Annotated[
        datetime | None, strawberry.argument(description="With a timezone; default: now.")
    ] = None,
) -> list[Portfolio]:
    rows = await to_thread.run_sync(lambda: portfolio(info.context.store, as_of=as_of))
    return [Portfolio.of(row) for row in rows]


@strawberry.type(
    description="One trigger, condition or action of a playbook: its kind and its settings as "
    "declared (TOML or Python)."
)
class PlaybookClause:
    kind: str
    settings: JSON = strawberry.field(description="Everything it declares but its kind.")


def _clause(declared: Trigger | Condition | Action) -> PlaybookClause:
    settings = declared.model_dump(mode="json", exclude={"kind"})
    return PlaybookClause(kind=declared.kind, settings=cast(JSON, settings))


@strawberry.type(description="An installed playbook: when it acts and what it does.")
class PlaybookDefinition:
    name: str
    title: str
    description: str
    enabled: bool
    state_triggered: bool = strawberry.field(
        description="Its trigger is a state checked at each run (a renewal window…), not an "
        "event from the outbox."
    )
    trigger: PlaybookClause
    conditions: list[PlaybookClause] = strawberry.field(
        description="What the account must meet when the trigger fires, all of them."
    )
    actions: list[PlaybookClause]
    effect_days: int | None = strawberry.field(
        description="Days after firing to judge whether health recovered; null: the policies'."
    )

    @classmethod
    def of(cls, playbook: Playbook) -> PlaybookDefinition:
        return cls(name=playbook.name, title=playbook.title, description=playbook.description,
                   enabled=playbook.enabled, state_triggered=playbook.is_state_triggered,
                   trigger=_clause(playbook.trigger),
                   conditions=[_clause(condition) for condition in playbook.conditions],
                   actions=[_clause(action) for action in playbook.actions],
                   effect_days=playbook.effect_days)  # fmt: skip


def playbooks() -> list[PlaybookDefinition]:
    return [PlaybookDefinition.of(found) for found in installed_playbooks()]


def playbook(name: str) -> Playbook | PlaybookNotFound:
    """The installed playbook ``name``, or the typed error listing those installed."""
    installed = {found.name: found for found in installed_playbooks()}
    if name in installed:
        return installed[name]
    return PlaybookNotFound(message=f"no playbook {name!r}; known: {', '.join(sorted(installed))}")


@strawberry.type(description="A run of the playbook engine, from its audit log.")
class PlaybookRun:
    id: strawberry.ID
    as_of: datetime
    started_at: datetime
    finished_at: datetime | None = strawberry.field(description="Null while it runs.")
    playbooks: list[str] = strawberry.field(description="The enabled playbooks it ran.")
    fired: int
    tasks_created: int
    actions_sent: int
    actions_failed: int

    @classmethod
    def of(cls, row: PlaybookRunRow) -> PlaybookRun:
        return cls(id=encode_id("PlaybookRun", row.id), as_of=row.as_of,
                   started_at=row.started_at, finished_at=row.finished_at,
                   playbooks=[str(name) for name in row.playbooks], fired=row.fired,
                   tasks_created=row.tasks_created, actions_sent=row.actions_sent,
                   actions_failed=row.actions_failed)  # fmt: skip


async def playbook_runs_list(info: Info, first: int = 20) -> list[PlaybookRun]:
    check_page_size(first)
    rows = await to_thread.run_sync(lambda: playbook_runs(info.context.store, limit=first))
    return [PlaybookRun.of(row) for row in rows]


@strawberry.type(
    name="PlaybookHit", description="A playbook's trigger occurrence for an account, and what "
    "came (or would come) of it."
)  # fmt: skip
class PlaybookHitView:
    playbook: str
    account: str = strawberry.field(description="The account as source:externalId.")
    account_name: str
    occurrence: str = strawberry.field(
        description="What fired it: an outbox event, or a state and the day it began."
    )
    reason: str
    blocked_by: str | None = strawberry.field(
        description="The condition that stopped it; null: it fires."
    )
    actions: list[str] = strawberry.field(description="What firing does, one line per action.")
    fires: bool

    @classmethod
    def of(cls, hit: PlaybookHit) -> PlaybookHitView:
        return cls(playbook=hit.playbook, account=hit.account, account_name=hit.account_name,
                   occurrence=hit.occurrence, reason=hit.reason, blocked_by=hit.blocked_by,
                   actions=list(hit.actions), fires=hit.fires)  # fmt: skip


@strawberry.type(description="What a playbook would do if it ran now; nothing was recorded.")
class PlaybookPreview:
    playbook: str
    as_of: datetime
    hits: list[PlaybookHitView] = strawberry.field(
        description="Every account it would hit, those its conditions block included."
    )


PlaybookPreviewResult = Annotated[
    PlaybookPreview | PlaybookNotFound | Rejected, strawberry.union("PlaybookPreviewResult")
]


async def playbook_preview(info: Info, name: str) -> PlaybookPreviewResult:
    chosen = playbook(name)
    if isinstance(chosen, PlaybookNotFound):
        return chosen
    as_of = info.context.loaders.now

    def preview() -> PlaybookPreview | Rejected:
        try:
            hits = preview_playbook(info.context.store, chosen, as_of=as_of)
        except ConfigurationError as error:
            return Rejected(message=str(error))
        return PlaybookPreview(playbook=chosen.name, as_of=as_of,
                               hits=[PlaybookHitView.of(hit) for hit in hits])  # fmt: skip

    return await to_thread.run_sync(preview)
