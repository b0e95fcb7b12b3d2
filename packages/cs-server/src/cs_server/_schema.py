"""The schema: queries (the 360° view of accounts, tasks, reports), mutations with typed errors,
and resumable subscriptions to the outbox.

``Query`` and ``Mutation`` list every field with the scope it needs; the resolvers live with their
types in ``_accounts``, ``_tasks``, ``_reports``, ``_operations`` and ``_syncs``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator, Callable
from datetime import date, datetime
from typing import TypeVar, cast

import strawberry
from strawberry.scalars import JSON

from cs_core import (
    HEALTH_CHANGED,
    HEALTH_OVERRIDDEN,
    HEALTH_OVERRIDE_CLEARED,
    SIGNAL_FIRED,
    TASK_CREATED,
    DomainEvent,
    InvalidArgumentError,
)
from cs_server import _accounts, _operations, _reports, _syncs, _tasks
from cs_server._context import Info
from cs_server._pages import MAX_PAGE
from cs_server._permissions import CanAdmin, CanRead, CanWrite
from cs_server._types import decode_id, encode_id

__all__ = ["MAX_PAGE", "Mutation", "Query", "Subscription"]


@strawberry.type
class Query:
    accounts = strawberry.field(
        resolver=_accounts.accounts, permission_classes=[CanRead],
        description="Accounts, a page at a time.",
    )  # fmt: skip
    account = strawberry.field(
        resolver=_accounts.account, permission_classes=[CanRead],
        description="One account; null if unknown.",
    )  # fmt: skip
    tasks = strawberry.field(
        resolver=_tasks.tasks, permission_classes=[CanRead],
        description="Tasks across accounts by due day, a page at a time.",
    )  # fmt: skip
    kpis = strawberry.field(
        resolver=_reports.kpis, permission_classes=[CanRead],
        description="The KPIs of a period: one report, or one per segment or owner (`by`).",
    )  # fmt: skip
    portfolio = strawberry.field(
        resolver=_reports.portfolios, permission_classes=[CanRead],
        description="Each CSM's book of business at `asOf`, by owner.",
    )  # fmt: skip
    playbooks = strawberry.field(
        resolver=_reports.playbooks, permission_classes=[CanRead],
        description="The installed playbooks: the built-in ones with those of CS_PLAYBOOKS.",
    )  # fmt: skip
    playbook_runs = strawberry.field(
        resolver=_reports.playbook_runs_list, permission_classes=[CanRead],
        description="The latest runs of the playbook engine, newest first.",
    )  # fmt: skip
    sync_run = strawberry.field(
        resolver=_syncs.sync_run, permission_classes=[CanRead],
        description="One sync run with the streams it has finished; null if unknown.",
    )  # fmt: skip
    sync_runs = strawberry.field(
        resolver=_syncs.sync_runs, permission_classes=[CanRead],
        description="The latest sync runs, newest first.",
    )  # fmt: skip
    playbook_preview = strawberry.field(
        resolver=_reports.playbook_preview, permission_classes=[CanRead],
        description="Which accounts a playbook would hit now, and why; nothing is recorded.",
    )  # fmt: skip


@strawberry.type
class Mutation:
    override_health = strawberry.mutation(
        resolver=_accounts.override_account_health, permission_classes=[CanWrite],
        description="Replace an account's computed health with a person's judgement.",
    )  # fmt: skip
    clear_override = strawberry.mutation(
        resolver=_accounts.clear_health_override, permission_classes=[CanWrite],
        description="End the override in force on an account.",
    )  # fmt: skip
    complete_task = strawberry.mutation(
        resolver=_tasks.complete, permission_classes=[CanWrite],
        description="Mark a task done, by the caller's token.",
    )  # fmt: skip
    snooze_task = strawberry.mutation(
        resolver=_tasks.snooze, permission_classes=[CanWrite],
        description="Put a task aside until a later day; it stays open work, due then.",
    )  # fmt: skip
    reassign_task = strawberry.mutation(
        resolver=_tasks.reassign, permission_classes=[CanWrite],
        description="Give a task to another person.",
    )  # fmt: skip
    run_playbooks = strawberry.mutation(
        resolver=_operations.start_playbook_run, permission_classes=[CanWrite],
        description="Run playbooks once now: their firings make tasks, flags and notifications, "
        "each at most once ever; a dry run only reports.",
    )  # fmt: skip
    rescore_accounts = strawberry.mutation(
        resolver=_operations.rescore_accounts, permission_classes=[CanWrite],
        description="Score these accounts again now, in an incremental run (which also scores "
        "any other account whose data changed since it was last scored).",
    )  # fmt: skip
    start_sync = strawberry.mutation(
        resolver=_syncs.start_sync, permission_classes=[CanAdmin],
        description="Start syncing an installed connector, configured from the server's "
        "CS_<NAME>_* variables, from where its last sync stopped; answers once the run is "
        "recorded, and the sync goes on in the server (follow it with `syncRun`).",
    )  # fmt: skip


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


def _of_accounts(
    account_ids: list[strawberry.ID] | None, build: Callable[[DomainEvent], _Item]
) -> Callable[[DomainEvent], _Item | None]:
    """``build`` for the events of these accounts (of all if ``None``), ``None`` for others."""
    if account_ids is None:
        return build
    accounts = {decode_id("Account", each) for each in account_ids}
    return lambda event: build(event) if event.account_id in accounts else None


# The resolvers hand the tail's own iterator to strawberry, without a generator of theirs around
# it: each open subscription costs one frame less, and each delivery one step less.


@strawberry.type
class Subscription:
    @strawberry.subscription(
        permission_classes=[CanRead],
        description="Health changes after `after` (a cursor from an earlier change; omit it "
        "for changes from now on), then live: none missed, none repeated.",
    )
    def health_changed(
        self, info: Info, after: str | None = None, filter: HealthChangeFilter | None = None
    ) -> AsyncIterator[HealthChange]:
        where = filter or HealthChangeFilter()
        build = _of_accounts(where.account_ids, HealthChange.of)

        def convert(event: DomainEvent) -> HealthChange | None:
            change = build(event)
            if change is None or (where.tiers is not None and change.tier not in where.tiers):
                return None
            if where.min_delta is not None and (
                change.delta is None or abs(change.delta) < where.min_delta
            ):
                return None
            return change

        return info.context.tail.events(_HEALTH_EVENTS, _event_after(after), convert)

    @strawberry.subscription(permission_classes=[CanRead], description="Signals as they fire.")
    def signal_fired(
        self, info: Info, after: str | None = None, account_ids: list[strawberry.ID] | None = None
    ) -> AsyncIterator[SignalFired]:
        convert = _of_accounts(account_ids, SignalFired.of)
        return info.context.tail.events({SIGNAL_FIRED}, _event_after(after), convert)

    @strawberry.subscription(
        permission_classes=[CanRead], description="Tasks as playbooks make them."
    )
    def task_created(
        self, info: Info, after: str | None = None, account_ids: list[strawberry.ID] | None = None
    ) -> AsyncIterator[TaskCreated]:
        convert = _of_accounts(account_ids, TaskCreated.of)
        return info.context.tail.events({TASK_CREATED}, _event_after(after), convert)
