"""Set-based reads behind the account view's loaders: each reads a whole page of accounts at once.

They take the ids of the accounts and what the field asks (a window, a length), and the request's
moment where time matters, so that every account of a response is judged at the same time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from cs_core import (
    AccountLifecycle,
    HealthChange,
    HealthHistory,
    HealthTrend,
    MilestoneStatus,
    Ticket,
    TicketSla,
    TicketStatus,
    UsageDaily,
    evaluate_sla,
    load_policies,
)

__all__ = [
    "LifecycleRows",
    "OpenTicket",
    "UsageWindow",
    "health_trends",
    "latest_health_changes",
    "lifecycles",
    "open_tickets",
    "usage_windows",
]

_CLOSED_TICKETS = (TicketStatus.SOLVED, TicketStatus.CLOSED)


@dataclass(frozen=True, slots=True)
class LifecycleRows:
    """An account's last lifecycle evaluation and its onboarding milestones, as stored."""

    evaluation: AccountLifecycle | None
    milestones: list[MilestoneStatus]


@dataclass(frozen=True, slots=True)
class OpenTicket:
    """A ticket not yet solved, and where it stands against its SLA at the request's time."""

    row: Ticket
    sla: TicketSla


@dataclass(frozen=True, slots=True)
class UsageWindow:
    """An account's daily usage rollups summed over the last ``days`` days (up to today) and
    the ``days`` before them."""

    days: int
    active_days: int
    peak_active_users: int
    active_user_days: int
    """Daily active users summed over the window's days."""
    events: int
    previous_events: int
    last_active_on: date | None
    """The last day with an active user, whenever it was."""


def _newest_first() -> ColumnElement[int]:
    """SQL: each history row's rank within its account, 1 for the newest."""
    return func.row_number().over(
        partition_by=HealthHistory.account_id,
        order_by=(HealthHistory.as_of.desc(), HealthHistory.id.desc()),
    )


def _scores_at(session: Session, ids: Sequence[int], moment: datetime) -> dict[int, float | None]:
    """Each account's computed score in force at ``moment``: its newest history row by then."""
    ranked = (
        select(HealthHistory.account_id, HealthHistory.score, _newest_first().label("rank"))
        .where(HealthHistory.account_id.in_(ids), HealthHistory.as_of <= moment)
        .subquery()
    )
    rows = session.execute(select(ranked.c.account_id, ranked.c.score).where(ranked.c.rank == 1))
    return dict(rows.all())


def health_trends(
    session: Session, ids: Sequence[int], days: int, now: datetime
) -> dict[int, HealthTrend]:
    """Each scored account's trend over the ``days`` before ``now``, as
    :func:`cs_core.health_trend` computes it for one."""
    start = _scores_at(session, ids, now - timedelta(days=days))
    end = _scores_at(session, ids, now)
    return {i: HealthTrend(days, start.get(i), end.get(i)) for i in set(start) | set(end)}


def latest_health_changes(
    session: Session, ids: Sequence[int], first: int
) -> dict[int, list[HealthChange]]:
    """Each account's ``first`` newest health changes, newest first."""
    ranked = (
        select(
            HealthHistory.account_id, HealthHistory.as_of, HealthHistory.score, HealthHistory.tier,
            HealthHistory.previous_score, HealthHistory.cause, HealthHistory.scorecard_id,
            HealthHistory.scorecard_version, _newest_first().label("rank"),
        )
        .where(HealthHistory.account_id.in_(ids))
        .subquery()
    )  # fmt: skip
    changes: dict[int, list[HealthChange]] = defaultdict(list)
    for row in session.execute(
        select(ranked).where(ranked.c.rank <= first).order_by(ranked.c.account_id, ranked.c.rank)
    ):
        changes[row.account_id].append(HealthChange.of(row))
    return changes


def lifecycles(session: Session, ids: Sequence[int]) -> list[LifecycleRows]:
    """Each account's last evaluation and its milestones by due day, in the order of ``ids``."""
    evaluations = {
        row.account_id: row
        for row in session.scalars(
            select(AccountLifecycle).where(AccountLifecycle.account_id.in_(ids))
        )
    }
    milestones: dict[int, list[MilestoneStatus]] = defaultdict(list)
    for row in session.scalars(
        select(MilestoneStatus)
        .where(MilestoneStatus.account_id.in_(ids))
        .order_by(MilestoneStatus.due_on, MilestoneStatus.milestone)
    ):
        milestones[row.account_id].append(row)
    return [LifecycleRows(evaluations.get(i), milestones.get(i, [])) for i in ids]


def open_tickets(
    session: Session, ids: Sequence[int], now: datetime
) -> Sequence[tuple[int, OpenTicket]]:
    """The accounts' tickets not yet solved or closed, oldest first, measured against the SLA
    policies at ``now``."""
    policy = load_policies().support
    rows = session.scalars(
        select(Ticket)
        .where(Ticket.account_id.in_(ids), Ticket.status.not_in(_CLOSED_TICKETS))
        .order_by(Ticket.opened_at, Ticket.id)
    )
    return [
        (row.account_id, OpenTicket(row, evaluate_sla(
            row.id, row.account_id, row.priority, row.opened_at, row.first_response_at,
            row.solved_at, policy, now)))
        for row in rows
        if row.account_id is not None
    ]  # fmt: skip


def usage_windows(
    session: Session, ids: Sequence[int], days: int, today: date
) -> dict[int, UsageWindow]:
    """Each account's usage over the ``days`` days up to ``today`` and the ``days`` before, from
    the daily rollups (accounts without any are left out)."""
    recent = UsageDaily.day > today - timedelta(days=days)
    previous = (UsageDaily.day > today - timedelta(days=2 * days)) & ~recent
    active = UsageDaily.active_users > 0
    rows = session.execute(
        select(
            UsageDaily.account_id,
            func.count(case((recent & active, 1))),
            func.coalesce(func.max(case((recent, UsageDaily.active_users))), 0),
            func.coalesce(func.sum(case((recent, UsageDaily.active_users))), 0),
            func.coalesce(func.sum(case((recent, UsageDaily.events))), 0),
            func.coalesce(func.sum(case((previous, UsageDaily.events))), 0),
            func.max(case((active, UsageDaily.day))),
        )
        .where(UsageDaily.account_id.in_(ids), UsageDaily.day <= today)
        .group_by(UsageDaily.account_id)
    )
    return {
        account_id: UsageWindow(days, int(active_days), int(peak), int(user_days),
                                int(events), int(before), last_active)
        for account_id, active_days, peak, user_days, events, before, last_active in rows
    }  # fmt: skip
