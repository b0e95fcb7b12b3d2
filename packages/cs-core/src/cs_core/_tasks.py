"""Tasks: listing them, and what people do with them (complete, snooze, reassign).

Each change is an outbox event in the same transaction: ``task.completed``, ``task.snoozed``,
``task.reassigned``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cs_core._enums import TaskStatus, TaskType
from cs_core._errors import InvalidArgumentError
from cs_core._outbox import append_event
from cs_core._store import Store
from cs_core._tables import Task
from cs_core._types import utc_moment

__all__ = [
    "TASK_COMPLETED",
    "TASK_REASSIGNED",
    "TASK_SNOOZED",
    "complete_task",
    "list_tasks",
    "reassign_task",
    "snooze_task",
]

TASK_COMPLETED = "task.completed"
TASK_SNOOZED = "task.snoozed"
TASK_REASSIGNED = "task.reassigned"


def list_tasks(
    store: Store,
    *,
    owner: str | None = None,
    account_id: int | None = None,
    type: TaskType | str | None = None,
    status: Sequence[TaskStatus] = (TaskStatus.OPEN, TaskStatus.SNOOZED),
    limit: int = 1000,
) -> list[Task]:
    """Tasks by due day (open and snoozed by default), for an owner, an account, a type."""
    store.check_ready()
    query = select(Task).where(Task.status.in_(status)).order_by(Task.due_on, Task.id).limit(limit)
    if owner is not None:
        query = query.where(Task.owner == owner)
    if account_id is not None:
        query = query.where(Task.account_id == account_id)
    if type is not None:
        query = query.where(Task.type == TaskType(type))
    with store.transaction() as session:
        tasks = list(session.scalars(query))
        session.expunge_all()
    return tasks


def _open_task(session: Session, task_id: int) -> Task:
    task = session.get(Task, task_id)
    if task is None:
        raise InvalidArgumentError(f"no task {task_id}")
    if task.status is TaskStatus.DONE:
        raise InvalidArgumentError(f"task {task_id} is already done")
    return task


def complete_task(store: Store, task_id: int, *, by: str, at: datetime | None = None) -> Task:
    """Mark a task done by ``by``."""
    if not by.strip():
        raise InvalidArgumentError("completing a task needs who did it (by)")
    moment = utc_moment(at, "at")
    with store.transaction() as session:
        task = _open_task(session, task_id)
        task.status, task.completed_at, task.completed_by = TaskStatus.DONE, moment, by
        append_event(session, TASK_COMPLETED, {"task_id": task.id, "account_id": task.account_id,
                                               "by": by, "at": moment.isoformat()},
                     account_id=task.account_id)  # fmt: skip
        session.flush()
        session.expunge(task)
    return task


def snooze_task(store: Store, task_id: int, *, until: date) -> Task:
    """Put a task aside until ``until``; it stays open work, due then."""
    with store.transaction() as session:
        task = _open_task(session, task_id)
        if until <= task.created_at.date():
            raise InvalidArgumentError(
                f"snooze until a day after the task was created, not {until}"
            )
        task.status, task.snoozed_until, task.due_on = TaskStatus.SNOOZED, until, until
        append_event(session, TASK_SNOOZED, {"task_id": task.id, "account_id": task.account_id,
                                             "until": until.isoformat()},
                     account_id=task.account_id)  # fmt: skip
        session.flush()
        session.expunge(task)
    return task


def reassign_task(store: Store, task_id: int, *, owner: str) -> Task:
    """Give a task to ``owner``."""
    if not owner.strip():
        raise InvalidArgumentError("reassigning a task needs the new owner")
    with store.transaction() as session:
        task = _open_task(session, task_id)
        before, task.owner = task.owner, owner
        append_event(session, TASK_REASSIGNED, {"task_id": task.id, "account_id": task.account_id,
                                                "from": before, "to": owner},
                     account_id=task.account_id)  # fmt: skip
        session.flush()
        session.expunge(task)
    return task
