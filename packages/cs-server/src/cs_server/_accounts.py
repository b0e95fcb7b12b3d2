"""Accounts: pages of them (filtered, in keyset order), one by id, and health overrides."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from typing import Annotated, Any, TypeVar

import strawberry
from anyio import to_thread
from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

from cs_core import Account as AccountRow
from cs_core import (
    AccountLifecycle,
    CSError,
    HealthScoreRow,
    InvalidArgumentError,
    LifecycleStage,
    Segment,
    clear_override,
    override_health,
)
from cs_server._context import Info
from cs_server._health import Override
from cs_server._loaders import account_stage
from cs_server._pages import PageInfo, check_page_size, cursor_position, page_cursor
from cs_server._results import AccountNotFound, Rejected
from cs_server._types import Account, AccountId, decode_id

__all__ = [
    "AccountConnection",
    "AccountFilter",
    "AccountOrder",
    "ClearOverrideResult",
    "OverrideHealthResult",
    "account",
    "accounts",
    "clear_health_override",
    "override_account_health",
]


@strawberry.type
class AccountEdge:
    cursor: str
    node: Account


@strawberry.type(description="A page of accounts, and how to ask for the next.")
class AccountConnection:
    edges: list[AccountEdge]
    page_info: PageInfo
    total_count: int


@strawberry.enum(description="How to order accounts.")
class AccountOrder(Enum):
    NAME = "name"
    HEALTH_ASCENDING = "health_ascending"
    """Least healthy first (unscored accounts last)."""
    RENEWAL_DATE = "renewal_date"
    """Soonest renewal first (accounts without one last)."""


@strawberry.input(description="Accounts matching every given condition.")
class AccountFilter:
    tier: str | None = None
    segment: Segment | None = None
    lifecycle_stage: LifecycleStage | None = None
    owner: str | None = None
    renewal_within_days: int | None = strawberry.field(
        default=None, description="Renewal date from today to this many days ahead."
    )
    search: str | None = strawberry.field(
        default=None, description="Part of the name, domain or external id (case-insensitive)."
    )


def _sort_key(order: AccountOrder) -> ColumnElement[Any]:
    """A total order with no nulls, so that keyset pages never skip or repeat an account."""
    match order:
        case AccountOrder.NAME:
            return AccountRow.name.expression
        case AccountOrder.HEALTH_ASCENDING:
            return func.coalesce(HealthScoreRow.score, 1000.0)
        case AccountOrder.RENEWAL_DATE:
            return func.coalesce(AccountRow.renewal_date, date(9999, 12, 31))


def _filtered(query: Select[Any], where: AccountFilter | None, today: date) -> Select[Any]:
    if where is None:
        return query
    if where.tier is not None:
        query = query.where(HealthScoreRow.tier == where.tier)
    if where.segment is not None:
        query = query.where(AccountRow.segment == where.segment)
    if where.lifecycle_stage is not None:
        query = query.where(account_stage() == where.lifecycle_stage)
    if where.owner is not None:
        query = query.where(AccountRow.owner == where.owner)
    if where.renewal_within_days is not None:
        if where.renewal_within_days < 0:
            raise InvalidArgumentError("renewalWithinDays is a number of days ahead: 0 or more")
        query = query.where(AccountRow.renewal_date.between(
            today, today + timedelta(days=where.renewal_within_days)))  # fmt: skip
    if where.search:
        pattern = f"%{where.search.lower()}%"
        query = query.where(or_(func.lower(AccountRow.name).like(pattern),
                                func.lower(AccountRow.domain).like(pattern),
                                func.lower(AccountRow.external_id).like(pattern)))  # fmt: skip
    return query


def _after(order: AccountOrder, cursor: str) -> tuple[Any, int]:
    read = date.fromisoformat if order is AccountOrder.RENEWAL_DATE else (lambda value: value)
    return cursor_position(cursor, read, ", with the same orderBy")


def _page(
    session: Session,
    first: int,
    after: str | None,
    where: AccountFilter | None,
    order: AccountOrder,
    today: date,
) -> tuple[list[tuple[AccountRow, LifecycleStage | None, Any]], int]:
    key = _sort_key(order)
    base = (
        select(AccountRow, account_stage(), key)
        .outerjoin(AccountLifecycle, AccountLifecycle.account_id == AccountRow.id)
        .outerjoin(HealthScoreRow, HealthScoreRow.account_id == AccountRow.id)
    )
    base = _filtered(base, where, today)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    query = base.order_by(key, AccountRow.id).limit(first + 1)
    if after is not None:
        value, last = _after(order, after)
        query = query.where(or_(key > value, (key == value) & (AccountRow.id > last)))
    rows = [(row[0], row[1], row[2]) for row in session.execute(query)]
    session.expunge_all()
    return rows, total


async def accounts(
    info: Info,
    first: int = 20,
    after: str | None = None,
    filter: AccountFilter | None = None,
    order_by: AccountOrder = AccountOrder.NAME,
) -> AccountConnection:
    check_page_size(first)
    today = datetime.now(UTC).date()

    def read() -> tuple[list[tuple[AccountRow, LifecycleStage | None, Any]], int]:
        with info.context.store.transaction(read_only=True) as session:
            return _page(session, first, after, filter, order_by, today)

    rows, total = await to_thread.run_sync(read)
    edges = [AccountEdge(cursor=page_cursor(value, row.id), node=Account.of(row, stage))
             for row, stage, value in rows[:first]]  # fmt: skip
    return AccountConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(rows) > first, end_cursor=edges[-1].cursor if edges else None
        ),
        total_count=total,
    )


async def account(info: Info, id: AccountId) -> Account | None:
    found = await info.context.loaders.accounts.load(decode_id("Account", id))
    return None if found is None else Account.of(*found)


@strawberry.type(description="The override now in force, and the account's health with it.")
class HealthOverridden:
    override: Override
    account: Account


@strawberry.type(description="The override was cleared: the computed score counts again.")
class OverrideCleared:
    account: Account


OverrideHealthResult = Annotated[
    HealthOverridden | AccountNotFound | Rejected, strawberry.union("OverrideHealthResult")
]
ClearOverrideResult = Annotated[
    OverrideCleared | AccountNotFound | Rejected, strawberry.union("ClearOverrideResult")
]


def _account_row(session: Session, key: int) -> AccountRow | None:
    row = session.get(AccountRow, key)
    if row is not None:
        session.expunge(row)
    return row


def _author(info: Info) -> str:
    """Who a change is recorded as made by: the name of the caller's token."""
    return info.context.token.name if info.context.token else "unknown"


_Changed = TypeVar("_Changed")


async def _change_account(
    info: Info, account_id: AccountId, change: Callable[[Session, int, AccountRow], _Changed]
) -> _Changed | AccountNotFound | Rejected:
    """Run ``change`` on the account in one transaction, in a worker thread: an unknown id is
    ``AccountNotFound``, a refusal of cs-core's is ``Rejected`` and leaves nothing written."""
    try:
        key = decode_id("Account", account_id)
    except InvalidArgumentError as error:
        return AccountNotFound(message=str(error))

    def write() -> _Changed | AccountNotFound | Rejected:
        with info.context.store.transaction() as session:
            row = _account_row(session, key)
            if row is None:
                return AccountNotFound(message=f"no account {account_id}")
            try:
                return change(session, key, row)
            except CSError as error:
                session.rollback()
                return Rejected(message=str(error))

    return await to_thread.run_sync(write)


async def override_account_health(
    info: Info,
    account_id: AccountId,
    score: float,
    reason: str,
    expires_at: datetime | None = None,
) -> OverrideHealthResult:
    def override(session: Session, key: int, row: AccountRow) -> HealthOverridden:
        made = override_health(
            session, key, score, author=_author(info), reason=reason, expires_at=expires_at,
            scorecards=info.context.scorecards,
        )  # fmt: skip
        return HealthOverridden(override=Override.of(made), account=Account.of(row))

    return await _change_account(info, account_id, override)


async def clear_health_override(info: Info, account_id: AccountId) -> ClearOverrideResult:
    def clear(session: Session, key: int, row: AccountRow) -> OverrideCleared:
        clear_override(session, key, author=_author(info))
        return OverrideCleared(account=Account.of(row))

    return await _change_account(info, account_id, clear)
