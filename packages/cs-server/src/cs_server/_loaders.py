"""DataLoaders: what a page of accounts needs, fetched with one query per kind of data.

A page of 100 accounts asking for its whole 360° view (health with its trend and history,
contracts, contacts, signals, lifecycle, tasks, renewal, tickets, usage) costs the page query,
its count, and a fixed number of queries per loader, whatever the page size. Each loader reads in
a worker thread (the store is synchronous) and lives for one request, so nothing is cached across
them. Every loader of a request judges time (windows, SLAs, forecasts) from the same moment, the
request's start.

Loaders of fields that take an argument (a trend's window, a history's length) are keyed by
``(account id, argument)``: accounts asking with the same argument share one query.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, TypeVar

from anyio import to_thread
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session
from strawberry.dataloader import DataLoader

from cs_core import (
    Account,
    AccountLifecycle,
    Contact,
    Contract,
    HealthChange,
    HealthOverride,
    HealthScoreRow,
    HealthTrend,
    LifecycleStage,
    Signal,
    Store,
    Task,
    TaskStatus,
    UpcomingRenewal,
    override_in_force,
    upcoming_renewals,
)
from cs_server._view_queries import (
    LifecycleRows,
    OpenTicket,
    UsageWindow,
    health_trends,
    latest_health_changes,
    lifecycles,
    open_tickets,
    usage_windows,
)

__all__ = ["OPEN_TASK_STATUSES", "HealthRows", "Loaders", "account_stage"]

OPEN_TASK_STATUSES = (TaskStatus.OPEN, TaskStatus.SNOOZED)
"""Tasks that still ask for work: snoozed ones come back on the day they are due."""

_Row = TypeVar("_Row")
_Value = TypeVar("_Value")


def account_stage() -> ColumnElement[Any]:
    """SQL: the account's stage as last evaluated, else as its source gives it (the query must
    outer-join :class:`AccountLifecycle` on the account)."""
    return func.coalesce(AccountLifecycle.stage, Account.lifecycle_stage)


@dataclass(frozen=True, slots=True)
class HealthRows:
    """An account's computed health and the override in force, as stored."""

    computed: HealthScoreRow | None
    override: HealthOverride | None


def _grouped(
    store: Store, query: Callable[[Session, Sequence[int]], Sequence[tuple[int, _Row]]]
) -> Callable[[list[int]], Awaitable[list[list[_Row]]]]:
    """A batch function: each account's rows, in the order ``query`` returns them."""

    async def load(ids: list[int]) -> list[list[_Row]]:
        def read() -> list[list[_Row]]:
            with store.transaction(read_only=True) as session:
                rows = query(session, ids)
                session.expunge_all()
            by_account: dict[int, list[_Row]] = defaultdict(list)
            for account_id, row in rows:
                by_account[account_id].append(row)
            return [by_account.get(account_id, []) for account_id in ids]

        return await to_thread.run_sync(read)

    return load


def _per_argument(
    store: Store,
    query: Callable[[Session, Sequence[int], int], Mapping[int, _Value]],
    missing: Callable[[int], _Value],
) -> Callable[[list[tuple[int, int]]], Awaitable[list[_Value]]]:
    """A batch function over ``(account id, argument)`` keys: one ``query`` per argument given;
    an account it finds nothing for gets ``missing(argument)``."""

    async def load(keys: list[tuple[int, int]]) -> list[_Value]:
        def read() -> list[_Value]:
            accounts: dict[int, list[int]] = defaultdict(list)
            for account_id, argument in keys:
                accounts[argument].append(account_id)
            found: dict[tuple[int, int], _Value] = {}
            with store.transaction(read_only=True) as session:
                for argument, ids in accounts.items():
                    found.update(
                        ((account_id, argument), value)
                        for account_id, value in query(session, ids, argument).items()
                    )
                session.expunge_all()
            return [found.get(key, missing(key[1])) for key in keys]

        return await to_thread.run_sync(read)

    return load


def _contracts(session: Session, ids: Sequence[int]) -> Sequence[tuple[int, Contract]]:
    rows = session.scalars(
        select(Contract).where(Contract.account_id.in_(ids)).order_by(Contract.start_date.desc())
    )
    return [(row.account_id, row) for row in rows if row.account_id is not None]


def _contacts(session: Session, ids: Sequence[int]) -> Sequence[tuple[int, Contact]]:
    rows = session.scalars(
        select(Contact).where(Contact.account_id.in_(ids)).order_by(Contact.email)
    )
    return [(row.account_id, row) for row in rows if row.account_id is not None]


def _open_signals(session: Session, ids: Sequence[int]) -> Sequence[tuple[int, Signal]]:
    rows = session.scalars(
        select(Signal)
        .where(Signal.account_id.in_(ids), Signal.resolved_at.is_(None))
        .order_by(Signal.first_seen_at)
    )
    return [(row.account_id, row) for row in rows]


def _open_tasks(session: Session, ids: Sequence[int]) -> Sequence[tuple[int, Task]]:
    rows = session.scalars(
        select(Task)
        .where(Task.account_id.in_(ids), Task.status.in_(OPEN_TASK_STATUSES))
        .order_by(Task.due_on, Task.id)
    )
    return [(row.account_id, row) for row in rows]


class Loaders:
    """The loaders of one request (or websocket connection), each built when first used: most
    requests need a few of them, and a subscriber's connection none."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.now = datetime.now(UTC)
        """The request's moment: what "now", "today" and "open" mean for every loader."""

    @cached_property
    def accounts(self) -> DataLoader[int, tuple[Account, LifecycleStage] | None]:
        return DataLoader(self._accounts)

    @cached_property
    def health(self) -> DataLoader[int, HealthRows]:
        return DataLoader(self._health)

    @cached_property
    def health_trends(self) -> DataLoader[tuple[int, int], HealthTrend]:
        return DataLoader(
            _per_argument(
                self.store,
                lambda session, ids, days: health_trends(session, ids, days, self.now),
                lambda days: HealthTrend(days, None, None),
            )
        )

    @cached_property
    def health_histories(self) -> DataLoader[tuple[int, int], list[HealthChange]]:
        return DataLoader(_per_argument(self.store, latest_health_changes, lambda first: []))

    @cached_property
    def contracts(self) -> DataLoader[int, list[Contract]]:
        return DataLoader(_grouped(self.store, _contracts))

    @cached_property
    def contacts(self) -> DataLoader[int, list[Contact]]:
        return DataLoader(_grouped(self.store, _contacts))

    @cached_property
    def signals(self) -> DataLoader[int, list[Signal]]:
        return DataLoader(_grouped(self.store, _open_signals))

    @cached_property
    def open_tasks(self) -> DataLoader[int, list[Task]]:
        return DataLoader(_grouped(self.store, _open_tasks))

    @cached_property
    def lifecycles(self) -> DataLoader[int, LifecycleRows]:
        return DataLoader(self._lifecycles)

    @cached_property
    def open_tickets(self) -> DataLoader[int, list[OpenTicket]]:
        return DataLoader(
            _grouped(self.store, lambda session, ids: open_tickets(session, ids, self.now))
        )

    @cached_property
    def renewals(self) -> DataLoader[tuple[int, int], UpcomingRenewal | None]:
        return DataLoader(self._renewals)

    @cached_property
    def usage(self) -> DataLoader[tuple[int, int], UsageWindow]:
        return DataLoader(
            _per_argument(
                self.store,
                lambda session, ids, days: usage_windows(session, ids, days, self.now.date()),
                lambda days: UsageWindow(days, 0, 0, 0, 0, 0, None),
            )
        )

    async def _accounts(self, ids: list[int]) -> list[tuple[Account, LifecycleStage] | None]:
        def read() -> list[tuple[Account, LifecycleStage] | None]:
            with self.store.transaction(read_only=True) as session:
                found = {
                    row.id: (row, LifecycleStage(stage))
                    for row, stage in session.execute(
                        select(Account, account_stage())
                        .outerjoin(AccountLifecycle, AccountLifecycle.account_id == Account.id)
                        .where(Account.id.in_(ids))
                    )
                }
                session.expunge_all()
            return [found.get(account_id) for account_id in ids]

        return await to_thread.run_sync(read)

    async def _health(self, ids: list[int]) -> list[HealthRows]:
        def read() -> list[HealthRows]:
            # The overrides in force when read, not at the request's start: a mutation's answer
            # shows the override it has just set.
            now = datetime.now(UTC)
            with self.store.transaction(read_only=True) as session:
                computed = {
                    row.account_id: row
                    for row in session.scalars(
                        select(HealthScoreRow).where(HealthScoreRow.account_id.in_(ids))
                    )
                }
                overrides = {
                    row.account_id: row
                    for row in session.scalars(
                        select(HealthOverride).where(
                            HealthOverride.account_id.in_(ids), override_in_force(now)
                        )
                    )
                }
                session.expunge_all()
            return [HealthRows(computed.get(i), overrides.get(i)) for i in ids]

        return await to_thread.run_sync(read)

    async def _lifecycles(self, ids: list[int]) -> list[LifecycleRows]:
        def read() -> list[LifecycleRows]:
            with self.store.transaction(read_only=True) as session:
                found = lifecycles(session, ids)
                session.expunge_all()
            return found

        return await to_thread.run_sync(read)

    async def _renewals(self, keys: list[tuple[int, int]]) -> list[UpcomingRenewal | None]:
        """Each account's soonest unrenewed renewal within the key's days, as
        :func:`cs_core.upcoming_renewals` forecasts it (one call per window asked)."""

        def read() -> list[UpcomingRenewal | None]:
            accounts: dict[int, set[int]] = defaultdict(set)
            for account_id, within_days in keys:
                accounts[within_days].add(account_id)
            soonest: dict[tuple[int, int], UpcomingRenewal] = {}
            for within_days, ids in accounts.items():
                for renewal in upcoming_renewals(self.store, within_days=within_days,
                                                 as_of=self.now, account_ids=ids):  # fmt: skip
                    soonest.setdefault((renewal.account_id, within_days), renewal)
            return [soonest.get(key) for key in keys]

        return await to_thread.run_sync(read)
