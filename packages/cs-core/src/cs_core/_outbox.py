"""The outbox: append-only domain events, written in the caller's transaction.

An event becomes visible exactly when the change that caused it commits, and never otherwise.
Readers page through events by ``id``, the cursor a subscriber hands back to resume.

A cursor is only safe if ids become visible in increasing order. On PostgreSQL two transactions
could take ids 7 and 8 and commit 8 first; a reader at that moment would move past 7 for good.
So writers of events take a transaction-scoped advisory lock first: events commit one
transaction at a time, in id order. (SQLite has a single writer already.)

Readers that tail the outbox need not poll hard: on PostgreSQL a transaction that appends
events also sends ``NOTIFY cs_outbox`` (delivered at commit, to every process listening), and in
any process the callbacks given to :func:`on_outbox_commit` run after such a commit. Both only
wake readers; the outbox stays the one source of truth.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event as orm_event
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from cs_core._errors import CSError
from cs_core._tables import OutboxEvent
from cs_core._types import utc_moment

__all__ = [
    "OUTBOX_CHANNEL",
    "OUTBOX_LOCK",
    "DomainEvent",
    "NewEvent",
    "append_event",
    "append_events",
    "on_outbox_commit",
    "read_events",
]

_EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_MAX_PAGE = 10_000
OUTBOX_LOCK = 0x6373_6F75_7462_6F78  # "csoutbox": the advisory lock key of outbox writers
OUTBOX_CHANNEL = "cs_outbox"
"""The PostgreSQL channel notified, with the newest event id, when events are committed."""

_listeners: list[Callable[[], None]] = []
_listeners_lock = threading.Lock()


def on_outbox_commit(callback: Callable[[], None]) -> Callable[[], None]:
    """Call ``callback`` (in the committing thread) after every commit in this process that
    appended events; returns a function that stops it. Keep it quick: it runs inside commit."""
    with _listeners_lock:
        _listeners.append(callback)

    def stop() -> None:
        with _listeners_lock:
            if callback in _listeners:
                _listeners.remove(callback)

    return stop


_APPENDED = "cs_outbox_appended"


@orm_event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    if not session.info.pop(_APPENDED, False):
        return
    with _listeners_lock:
        callbacks = list(_listeners)
    for callback in callbacks:
        callback()


@orm_event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_APPENDED, None)


@dataclass(frozen=True, slots=True)
class DomainEvent:
    """One event of the outbox."""

    id: int
    """The cursor: strictly increasing in the order events were appended."""
    type: str
    """What happened, as ``subject.verb``: ``health.changed``, ``signal.fired``."""
    account_id: int | None
    payload: Mapping[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to append: its type, JSON payload and, if it is about one, the account."""

    type: str
    payload: Mapping[str, Any]
    account_id: int | None = None


def append_event(
    session: Session,
    type: str,
    payload: Mapping[str, Any],
    *,
    account_id: int | None = None,
    now: datetime | None = None,
) -> int:
    """Append an event in ``session``'s transaction and return its id.

    ``type`` is a dotted lower-case name (``health.changed``); ``payload`` must be JSON.
    """
    return append_events(session, [NewEvent(type, payload, account_id)], now=now)[0]


def append_events(
    session: Session, events: Sequence[NewEvent], *, now: datetime | None = None
) -> list[int]:
    """Append ``events`` in order, one statement per page of rows; return their ids, ascending."""
    for event in events:
        if not _EVENT_TYPE.match(event.type):
            raise CSError(
                f"event type {event.type!r} is not a dotted lower-case name "
                "such as 'health.changed'"
            )
        try:
            json.dumps(event.payload, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise CSError(f"payload of event {event.type!r} is not JSON: {error}") from None
    if not events:
        return []
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(OUTBOX_LOCK)))
    moment = utc_moment(now, "now")
    rows = [
        {
            "type": event.type,
            "account_id": event.account_id,
            "payload": dict(event.payload),
            "created_at": moment,
        }
        for event in events
    ]
    # Ids are assigned in the order of the rows; asking the driver to prove it per row would
    # make SQLite insert one row per statement.
    inserted = sorted(
        session.execute(insert(OutboxEvent).returning(OutboxEvent.id), rows).scalars()
    )
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_notify(OUTBOX_CHANNEL, str(inserted[-1]))))
    session.info[_APPENDED] = True
    return inserted


def read_events(
    session: Session,
    *,
    after: int = 0,
    limit: int = 1000,
    types: Collection[str] | None = None,
    account_ids: Collection[int] | None = None,
) -> Sequence[DomainEvent]:
    """Events with an id greater than ``after``, oldest first, at most ``limit`` of them."""
    if not 1 <= limit <= _MAX_PAGE:
        raise CSError(f"limit must be from 1 to {_MAX_PAGE}, not {limit}")
    if after < 0:
        raise CSError(f"after must be a cursor (0 or more), not {after}")
    query = select(OutboxEvent).where(OutboxEvent.id > after).order_by(OutboxEvent.id).limit(limit)
    if types is not None:
        query = query.where(OutboxEvent.type.in_(list(types)))
    if account_ids is not None:
        query = query.where(OutboxEvent.account_id.in_(list(account_ids)))
    return [
        DomainEvent(
            id=row.id,
            type=row.type,
            account_id=row.account_id,
            payload=row.payload,
            created_at=row.created_at,
        )
        for row in session.scalars(query)
    ]
