"""Tasks: a page at a time across accounts, and what people do with them.

Completing, snoozing and reassigning go through cs-core (:func:`cs_core.complete_task` and its
siblings), which records each change with its outbox event in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated

import strawberry
from anyio import to_thread
from sqlalchemy import Select, func, or_, select

from cs_core import (
    CSError,
    InvalidArgumentError,
    TaskStatus,
    TaskType,
    complete_task,
    reassign_task,
    snooze_task,
)
from cs_core import Task as TaskRow
from cs_server._context import Info
from cs_server._loaders import OPEN_TASK_STATUSES
from cs_server._pages import PageInfo, check_page_size, cursor_position, page_cursor
from cs_server._results import Rejected, TaskNotFound
from cs_server._types import Task, TaskId, decode_id

__all__ = ["TaskChangeResult", "TaskConnection", "TaskFilter", "complete", "reassign", "snooze",
           "tasks"]  # fmt: skip


@strawberry.type
class TaskEdge:
    cursor: str
    node: Task


@strawberry.type(description="A page of tasks by due day, and how to ask for the next.")
class TaskConnection:
    edges: list[TaskEdge]
    page_info: PageInfo
    total_count: int


@strawberry.input(description="Tasks matching every given condition.")
class TaskFilter:
    owner: str | None = strawberry.field(default=None, description="The person who holds them.")
    status: list[TaskStatus] | None = strawberry.field(
        default=None, description="Any of these statuses; default: OPEN and SNOOZED."
    )
    account_id: strawberry.ID | None = strawberry.field(
        default=None, description="The Account they are about."
    )
    type: TaskType | None = None


def _filtered(where: TaskFilter | None) -> Select[TaskRow]:
    chosen = where or TaskFilter()
    statuses = OPEN_TASK_STATUSES if chosen.status is None else chosen.status
    query = select(TaskRow).where(TaskRow.status.in_(statuses))
    if chosen.owner is not None:
        query = query.where(TaskRow.owner == chosen.owner)
    if chosen.account_id is not None:
        query = query.where(TaskRow.account_id == decode_id("Account", chosen.account_id))
    if chosen.type is not None:
        query = query.where(TaskRow.type == chosen.type)
    return query


async def tasks(
    info: Info, first: int = 20, after: str | None = None, filter: TaskFilter | None = None
) -> TaskConnection:
    check_page_size(first)
    query = _filtered(filter)
    position = None if after is None else cursor_position(after, date.fromisoformat)

    def read() -> tuple[list[TaskRow], int]:
        with info.context.store.transaction(read_only=True) as session:
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            page = query.order_by(TaskRow.due_on, TaskRow.id).limit(first + 1)
            if position is not None:
                due_on, last = position
                after_last = (TaskRow.due_on == due_on) & (TaskRow.id > last)
                page = page.where(or_(TaskRow.due_on > due_on, after_last))
            rows = list(session.scalars(page))
            session.expunge_all()
        return rows, total

    rows, total = await to_thread.run_sync(read)
    edges = [TaskEdge(cursor=page_cursor(row.due_on, row.id), node=Task.of(row))
             for row in rows[:first]]  # fmt: skip
    return TaskConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(rows) > first, end_cursor=edges[-1].cursor if edges else None
        ),
        total_count=total,
    )


@strawberry.type(description="The task as it is after the change.")
class TaskChanged:
    task: Task


TaskChangeResult = Annotated[
    TaskChanged | TaskNotFound | Rejected, strawberry.union("TaskChangeResult")
]


async def _change(
    info: Info, task_id: str, change: Callable[[int], TaskRow]
) -> TaskChanged | TaskNotFound | Rejected:
    """Apply ``change`` to the task ``task_id`` names, turning bad input into typed errors."""
    try:
        key = decode_id("Task", task_id)
    except InvalidArgumentError as error:
        return TaskNotFound(message=str(error))

    def write() -> TaskChanged | TaskNotFound | Rejected:
        with info.context.store.transaction(read_only=True) as session:
            if session.get(TaskRow, key) is None:
                return TaskNotFound(message=f"no task {task_id}")
        try:
            return TaskChanged(task=Task.of(change(key)))
        except CSError as error:
            return Rejected(message=str(error))

    return await to_thread.run_sync(write)


async def complete(info: Info, task_id: TaskId) -> TaskChangeResult:
    by = info.context.token.name if info.context.token else "unknown"
    return await _change(info, task_id, lambda key: complete_task(info.context.store, key, by=by))


async def snooze(
    info: Info,
    task_id: TaskId,
    until: Annotated[date, strawberry.argument(description="A day after today.")],
) -> TaskChangeResult:
    today = info.context.loaders.now.date()
    if until <= today:
        return Rejected(message=f"snooze until a day after today ({today}), not {until}")
    return await _change(info, task_id, lambda key: snooze_task(info.context.store, key,
                                                                until=until))  # fmt: skip


async def reassign(info: Info, task_id: TaskId, owner: str) -> TaskChangeResult:
    return await _change(info, task_id, lambda key: reassign_task(info.context.store, key,
                                                                  owner=owner))  # fmt: skip
