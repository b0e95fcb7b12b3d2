"""The schema: queries over accounts (Relay-style connections), mutations with typed errors."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from typing import Annotated, Any

import strawberry
from anyio import to_thread
from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

from cs_core import (
    Account as AccountRow,
)
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
from cs_server._permissions import CanRead, CanWrite
from cs_server._types import (
    Account,
    AccountId,
    Override,
    decode_id,
)

__all__ = ["MAX_PAGE", "Mutation", "Query"]

MAX_PAGE = 100
"""The most items one page of a connection holds."""


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


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


def _stage() -> ColumnElement[Any]:
    return func.coalesce(AccountLifecycle.stage, AccountRow.lifecycle_stage)


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
        query = query.where(_stage() == where.lifecycle_stage)
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


def _cursor(value: Any, key: int) -> str:
    shown = value.isoformat() if isinstance(value, date) else value
    return base64.urlsafe_b64encode(json.dumps([shown, key]).encode()).decode()


def _after(order: AccountOrder, cursor: str) -> tuple[Any, int]:
    try:
        value, key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if order is AccountOrder.RENEWAL_DATE:
            value = date.fromisoformat(value)
        return value, int(key)
    except (binascii.Error, ValueError, TypeError):
        raise InvalidArgumentError(
            f"{cursor!r} is not a cursor of this connection: pass an endCursor it returned, "
            "with the same orderBy"
        ) from None


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
        select(AccountRow, _stage(), key)
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


@strawberry.type
class Query:
    @strawberry.field(permission_classes=[CanRead], description="Accounts, a page at a time.")
    async def accounts(
        self,
        info: Info,
        first: int = 20,
        after: str | None = None,
        filter: AccountFilter | None = None,
        order_by: AccountOrder = AccountOrder.NAME,
    ) -> AccountConnection:
        if not 1 <= first <= MAX_PAGE:
            raise InvalidArgumentError(f"first is from 1 to {MAX_PAGE}, not {first}")
        today = datetime.now(UTC).date()

        def read() -> tuple[list[tuple[AccountRow, LifecycleStage | None, Any]], int]:
            with info.context.store.transaction() as session:
                return _page(session, first, after, filter, order_by, today)

        rows, total = await to_thread.run_sync(read)
        edges = [AccountEdge(cursor=_cursor(value, row.id), node=Account.of(row, stage))
                 for row, stage, value in rows[:first]]  # fmt: skip
        return AccountConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=len(rows) > first, end_cursor=edges[-1].cursor if edges else None
            ),
            total_count=total,
        )

    @strawberry.field(permission_classes=[CanRead], description="One account; null if unknown.")
    async def account(self, info: Info, id: AccountId) -> Account | None:
        key = decode_id("Account", id)

        def read() -> tuple[AccountRow, LifecycleStage | None] | None:
            with info.context.store.transaction() as session:
                found = session.execute(
                    select(AccountRow, _stage())
                    .outerjoin(AccountLifecycle, AccountLifecycle.account_id == AccountRow.id)
                    .where(AccountRow.id == key)
                ).first()
                session.expunge_all()
                return None if found is None else (found[0], found[1])

        found = await to_thread.run_sync(read)
        return None if found is None else Account.of(*found)


@strawberry.type(description="The account named does not exist.")
class AccountNotFound:
    message: str


@strawberry.type(description="The request cannot be done as asked: the message says why.")
class Rejected:
    message: str


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


def _account(session: Session, key: int) -> AccountRow | None:
    row = session.get(AccountRow, key)
    if row is not None:
        session.expunge(row)
    return row


@strawberry.type
class Mutation:
    @strawberry.mutation(
        permission_classes=[CanWrite],
        description="Replace an account's computed health with a person's judgement.",
    )
    async def override_health(
        self,
        info: Info,
        account_id: AccountId,
        score: float,
        reason: str,
        expires_at: datetime | None = None,
    ) -> OverrideHealthResult:
        try:
            key = decode_id("Account", account_id)
        except InvalidArgumentError as error:
            return AccountNotFound(message=str(error))
        author = info.context.token.name if info.context.token else "unknown"

        def write() -> HealthOverridden | AccountNotFound | Rejected:
            with info.context.store.transaction() as session:
                row = _account(session, key)
                if row is None:
                    return AccountNotFound(message=f"no account {account_id}")
                try:
                    override = override_health(session, key, score, author=author, reason=reason,
                                               expires_at=expires_at,
                                               scorecards=info.context.scorecards)  # fmt: skip
                except CSError as error:
                    session.rollback()
                    return Rejected(message=str(error))
                return HealthOverridden(override=Override.of(override), account=Account.of(row))

        return await to_thread.run_sync(write)

    @strawberry.mutation(
        permission_classes=[CanWrite],
        description="End the override in force on an account.",
    )
    async def clear_override(self, info: Info, account_id: AccountId) -> ClearOverrideResult:
        try:
            key = decode_id("Account", account_id)
        except InvalidArgumentError as error:
            return AccountNotFound(message=str(error))
        author = info.context.token.name if info.context.token else "unknown"

        def write() -> OverrideCleared | AccountNotFound | Rejected:
            with info.context.store.transaction() as session:
                row = _account(session, key)
                if row is None:
                    return AccountNotFound(message=f"no account {account_id}")
                try:
                    clear_override(session, key, author=author)
                except CSError as error:
                    session.rollback()
                    return Rejected(message=str(error))
                return OverrideCleared(account=Account.of(row))

        return await to_thread.run_sync(write)
