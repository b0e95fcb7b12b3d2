"""DataLoaders: what a page of accounts needs, fetched with one query per kind of data.

A page of 100 accounts asking for health, contracts, contacts and signals costs the page query,
its count, and one query per loader, whatever the page size. Each loader reads in a worker
thread (the store is synchronous) and lives for one request, so nothing is cached across them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from anyio import to_thread
from sqlalchemy import select
from sqlalchemy.orm import Session
from strawberry.dataloader import DataLoader

from cs_core import (
    Contact,
    Contract,
    HealthOverride,
    HealthScoreRow,
    Signal,
    Store,
    override_in_force,
)

__all__ = ["HealthRows", "Loaders"]

_Row = TypeVar("_Row")


@dataclass(frozen=True, slots=True)
class HealthRows:
    """An account's computed health and the override in force, as stored."""

    computed: HealthScoreRow | None
    override: HealthOverride | None


def _grouped(
    store: Store, query: Callable[[Session, Sequence[int]], Sequence[tuple[int, _Row]]]
) -> Callable[[list[int]], object]:
    async def load(ids: list[int]) -> list[list[_Row]]:
        def read() -> list[list[_Row]]:
            with store.transaction() as session:
                rows = query(session, ids)
                session.expunge_all()
            by_account: dict[int, list[_Row]] = defaultdict(list)
            for account_id, row in rows:
                by_account[account_id].append(row)
            return [by_account.get(account_id, []) for account_id in ids]

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


class Loaders:
    """The loaders of one request."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.health: DataLoader[int, HealthRows] = DataLoader(self._health)
        self.contracts: DataLoader[int, list[Contract]] = DataLoader(
            _grouped(store, _contracts)  # type: ignore[arg-type]
        )
        self.contacts: DataLoader[int, list[Contact]] = DataLoader(
            _grouped(store, _contacts)  # type: ignore[arg-type]
        )
        self.signals: DataLoader[int, list[Signal]] = DataLoader(
            _grouped(store, _open_signals)  # type: ignore[arg-type]
        )

    async def _health(self, ids: list[int]) -> list[HealthRows]:
        def read() -> list[HealthRows]:
            now = datetime.now(UTC)
            with self.store.transaction() as session:
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
