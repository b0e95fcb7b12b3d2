"""The schema: queries over accounts (Relay-style connections), mutations with typed errors."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import AsyncGenerator, Callable, Collection
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from typing import Annotated, Any, TypeVar, cast

import strawberry
from anyio import to_thread
from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session
from strawberry.scalars import JSON

from cs_core import (
    HEALTH_CHANGED,
    HEALTH_OVERRIDDEN,
    HEALTH_OVERRIDE_CLEARED,
    SIGNAL_FIRED,
    TASK_CREATED,
    AccountLifecycle,
    CSError,
    DomainEvent,
    HealthScoreRow,
    InvalidArgumentError,
    LifecycleStage,
    Segment,
    clear_override,
    override_health,
)
from cs_core import (
    Account as AccountRow,
)
from cs_server._context import Info
from cs_server._permissions import CanRead, CanWrite
from cs_server._types import (
    Account,
    AccountId,
    Override,
    decode_id,
    encode_id,
)

__all__ = ["MAX_PAGE", "Mutation", "Query", "Subscription"]

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


def _account_id(event: DomainEvent) -> strawberry.ID:
    return encode_id("Account", event.account_id or 0)


def _event_cursor(event_id: int) -> str:
    return base64.urlsafe_b64encode(f"outbox:{event_id}".encode()).decode()


def _event_after(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        kind, _, key = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        if kind == "outbox" and int(key) >= 0:
            return int(key)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise InvalidArgumentError(f"{cursor!r} is not an event cursor: pass one a subscription sent")


@strawberry.type(
    description="An account's health as it counts changed: its computed score moved (or was "
    "first computed), or an override was set or cleared."
)
class HealthChange:
    cursor: str = strawberry.field(description="Pass it as `after` to resume after this event.")
    account_id: strawberry.ID
    score: float | None
    tier: str | None
    previous_score: float | None
    previous_tier: str | None
    delta: float | None
    cause: str = strawberry.field(
        description="first, customer (its data moved), scorecard (the model changed), "
        "override or override_cleared."
    )
    committed_at: datetime

    @classmethod
    def of(cls, event: DomainEvent) -> HealthChange:
        payload = event.payload
        if event.type == HEALTH_OVERRIDDEN:
            current, previous, cause = payload["override"], payload["previous"], "override"
        elif event.type == HEALTH_OVERRIDE_CLEARED:
            current, previous, cause = payload["computed"], payload["override"], "override_cleared"
        else:
            current, previous = payload["current"], payload.get("previous") or {}
            cause = payload["cause"]
        score, before = current["score"], previous.get("score")
        delta = None if score is None or before is None else round(score - before, 2)
        return cls(cursor=_event_cursor(event.id), account_id=_account_id(event), score=score,
                   tier=current["tier"], previous_score=before, previous_tier=previous.get("tier"),
                   delta=delta, cause=cause, committed_at=event.created_at)  # fmt: skip


@strawberry.type(description="A predictive signal fired on an account.")
class SignalFired:
    cursor: str
    account_id: strawberry.ID
    kind: str
    severity: str
    evidence: JSON
    committed_at: datetime

    @classmethod
    def of(cls, event: DomainEvent) -> SignalFired:
        payload = event.payload
        return cls(cursor=_event_cursor(event.id), account_id=_account_id(event),
                   kind=payload["signal"], severity=payload["severity"],
                   evidence=cast(JSON, payload.get("evidence", {})),
                   committed_at=event.created_at)  # fmt: skip


@strawberry.type(description="A playbook created a task.")
class TaskCreated:
    cursor: str
    account_id: strawberry.ID
    title: str
    type: str
    priority: str
    owner: str | None
    due_on: date
    playbook: str | None
    committed_at: datetime

    @classmethod
    def of(cls, event: DomainEvent) -> TaskCreated:
        payload = event.payload
        return cls(cursor=_event_cursor(event.id), account_id=_account_id(event),
                   title=payload["title"], type=payload["type"], priority=payload["priority"],
                   owner=payload.get("owner"), due_on=date.fromisoformat(payload["due_on"]),
                   playbook=payload.get("playbook"), committed_at=event.created_at)  # fmt: skip


@strawberry.input(description="Health changes matching every given condition.")
class HealthChangeFilter:
    account_ids: list[strawberry.ID] | None = None
    tiers: list[str] | None = strawberry.field(default=None, description="The new tier is one.")
    min_delta: float | None = strawberry.field(
        default=None, description="Only changes of at least this many points, up or down."
    )


_Item = TypeVar("_Item")
_HEALTH_EVENTS = frozenset({HEALTH_CHANGED, HEALTH_OVERRIDDEN, HEALTH_OVERRIDE_CLEARED})


async def _stream(
    info: Info,
    kinds: Collection[str],
    after: str | None,
    account_ids: list[strawberry.ID] | None,
    build: Callable[[DomainEvent], _Item],
) -> AsyncGenerator[_Item, None]:
    start = _event_after(after)
    accounts = None if account_ids is None else {decode_id("Account", i) for i in account_ids}
    async for event in info.context.tail.events(kinds, start):
        if accounts is None or event.account_id in accounts:
            yield build(event)


@strawberry.type
class Subscription:
    @strawberry.subscription(
        permission_classes=[CanRead],
        description="Health changes after `after` (a cursor from an earlier change; omit it "
        "for changes from now on), then live: none missed, none repeated.",
    )
    async def health_changed(
        self, info: Info, after: str | None = None, filter: HealthChangeFilter | None = None
    ) -> AsyncGenerator[HealthChange, None]:
        where = filter or HealthChangeFilter()

        async for change in _stream(info, _HEALTH_EVENTS, after, where.account_ids,
                                    HealthChange.of):  # fmt: skip
            if (where.tiers is None or change.tier in where.tiers) and (
                where.min_delta is None
                or (change.delta is not None and abs(change.delta) >= where.min_delta)
            ):
                yield change

    @strawberry.subscription(permission_classes=[CanRead], description="Signals as they fire.")
    async def signal_fired(
        self, info: Info, after: str | None = None, account_ids: list[strawberry.ID] | None = None
    ) -> AsyncGenerator[SignalFired, None]:
        async for fired in _stream(info, {SIGNAL_FIRED}, after, account_ids, SignalFired.of):
            yield fired

    @strawberry.subscription(
        permission_classes=[CanRead], description="Tasks as playbooks make them."
    )
    async def task_created(
        self, info: Info, after: str | None = None, account_ids: list[strawberry.ID] | None = None
    ) -> AsyncGenerator[TaskCreated, None]:
        async for created in _stream(info, {TASK_CREATED}, after, account_ids, TaskCreated.of):
            yield created
