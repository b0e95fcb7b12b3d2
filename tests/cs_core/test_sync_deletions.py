"""Records a source deleted leave the store; an account goes only when no source knows it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest
from sqlalchemy import select

from cs_core import (
    ACCOUNT_DELETED,
    Account,
    AccountRecord,
    AccountToRescore,
    Checkpoint,
    Connector,
    Deletion,
    OutboxEvent,
    Store,
    Stream,
    StreamItem,
    Ticket,
    TicketRecord,
    UsageEventRecord,
    delete_records,
    sync,
)


class _Scripted(Stream):
    name: ClassVar[str] = "everything"

    def __init__(self, items: Sequence[StreamItem]) -> None:
        self.items = items

    def read(self, state: Mapping[str, Any] | None) -> Iterator[StreamItem]:
        yield from self.items
        yield Checkpoint({"read": len(self.items)})


class _Source(Connector):
    name: ClassVar[str] = "crm"

    def __init__(self, *items: StreamItem) -> None:
        self.items = items

    def check(self) -> None:
        """Always reachable."""

    def streams(self) -> Sequence[Stream]:
        return [_Scripted(self.items)]


def account(external_id: str, source: str = "crm", **fields: Any) -> AccountRecord:
    return AccountRecord(source=source, external_id=external_id, name=external_id,
                         segment="smb", lifecycle_stage="success", **fields)  # fmt: skip


def ticket(external_id: str, account_id: str) -> TicketRecord:
    return TicketRecord(source="crm", external_id=external_id, account_external_id=account_id,
                        priority="p3", status="open",
                        opened_at=datetime(2026, 11, 1, tzinfo=UTC))  # fmt: skip


def stored(store: Store, column: Any) -> list[Any]:
    with store.transaction() as session:
        return sorted(session.scalars(select(column)))


def test_the_later_of_an_update_and_a_deletion_wins(store: Store) -> None:
    report = sync(store, _Source(
        account("A"), ticket("T1", "A"), ticket("T2", "A"), ticket("T3", "A"),
        Deletion(TicketRecord, "crm", "T1"),
        Deletion(TicketRecord, "crm", "T2"), ticket("T2", "A"),
        Deletion(TicketRecord, "crm", "never-stored"),
    ))  # fmt: skip
    (stream,) = report.streams
    assert (stream.read, stream.written, stream.deleted) == (8, 3, 0)
    assert stored(store, Ticket.external_id) == ["T2", "T3"]
    (stream,) = sync(store, _Source(Deletion(TicketRecord, "crm", "T3"))).streams
    assert stream.deleted == 1
    assert stored(store, Ticket.external_id) == ["T2"]


def test_an_account_goes_with_its_last_source(store: Store) -> None:
    sync(store, _Source(account("A"), ticket("T", "A"), account("B")))
    store.write([account("b-in-billing", source="billing",
                         same_as={"source": "crm", "external_id": "B"})])  # fmt: skip
    (stream,) = sync(store, _Source(Deletion(AccountRecord, "crm", "A"),
                                    Deletion(AccountRecord, "crm", "B"))).streams  # fmt: skip
    assert stream.deleted == 2
    # B is still known to billing: only the CRM's identity went. A is gone, its ticket waits.
    assert stored(store, Account.name) == ["B"]
    with store.transaction() as session:
        assert session.scalar(select(Ticket.account_id)) is None
        (event,) = session.scalars(select(OutboxEvent).where(OutboxEvent.type == ACCOUNT_DELETED))
        assert event.payload == {"account_id": event.account_id}
        b_id = session.scalar(select(Account.id))
        assert b_id in set(session.scalars(select(AccountToRescore.account_id)))


def test_usage_events_cannot_be_deleted(store: Store) -> None:
    with store.transaction() as session, pytest.raises(TypeError, match="UsageEventRecord"):
        delete_records(session, UsageEventRecord, [("crm", "m1")])
