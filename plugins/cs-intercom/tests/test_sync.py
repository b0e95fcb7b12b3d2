"""Syncing a fake Intercom workspace: what each stream stores, incrementally, page by page."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import func, select

from cs_core import (
    Account,
    AccountIdentity,
    AccountRecord,
    Contact,
    QuarantinedRecord,
    Store,
    Ticket,
    sync,
    sync_state,
)

if TYPE_CHECKING:
    from conftest import Connect, FakeIntercom

T0 = 1_790_000_000
"""2026-09-21 13:33:20 UTC: the workspace's first change."""
HOUR, DAY = 3_600, 86_400


def at(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def cursor(timestamp: int) -> str:
    return at(timestamp).isoformat()


def count(store: Store, table: type) -> int:
    with store.transaction() as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


def fill(intercom: FakeIntercom) -> None:
    """Three companies, two users and a lead, three conversations."""
    intercom.add_company(
        "c1", updated_at=T0, name="Acme", website="https://www.acme.com/about",
        monthly_spend=1000, custom_attributes={"segment": "Mid-Market", "seats": 40},
    )  # fmt: skip
    intercom.add_company("c2", updated_at=T0, name="Globex", website="n/a")
    intercom.add_company(
        "c3", updated_at=T0, name=None, company_id="initech-7",
        custom_attributes={"segment": "enterprise"},
    )  # fmt: skip
    intercom.add_contact("u1", updated_at=T0, companies=("c1",), email="ann@acme.com",
                         name="Ann")  # fmt: skip
    intercom.add_contact("u2", updated_at=T0 + 60, companies=("c2", "c1"),
                         email="bob@globex.com")  # fmt: skip
    intercom.add_contact("l1", updated_at=T0, role="lead", email="visitor@example.org")
    intercom.add_conversation(
        "v1", contact="u1", created_at=T0, updated_at=T0 + 4 * HOUR, title="Export fails",
        priority="priority", state="closed", conversation_rating={"rating": 5},
        source={"type": "email", "subject": "Re: export"},
        statistics={"first_admin_reply_at": T0 + 600, "last_admin_reply_at": T0 + 600,
                    "last_close_at": T0 + HOUR},
    )  # fmt: skip
    intercom.add_conversation(  # closed, then reopened and snoozed: not solved
        "v2", contact="u2", created_at=T0 + HOUR, updated_at=T0 + 5 * HOUR, state="snoozed",
        statistics={"first_admin_reply_at": T0 + 2 * HOUR, "last_admin_reply_at": T0 + 3 * HOUR,
                    "last_close_at": T0 + 2 * HOUR},
    )  # fmt: skip
    intercom.add_conversation("v3", contact="u1", created_at=T0 + 4 * HOUR,
                              updated_at=T0 + 5 * HOUR)  # fmt: skip


def test_a_sync_maps_companies_users_and_conversations(
    store: Store, intercom: FakeIntercom, connect: Connect
) -> None:
    fill(intercom)
    report = sync(store, connect(seats_attribute="seats"))
    assert [(s.stream, s.status, s.read, s.written, s.quarantined) for s in report.streams] == [
        ("companies", "succeeded", 3, 3, 0),
        ("contacts", "succeeded", 2, 2, 0),  # the lead is not a customer's contact
        ("conversations", "succeeded", 3, 3, 0),
    ]
    with store.transaction() as session:
        accounts = session.execute(
            select(Account.external_id, Account.name, Account.domain, Account.segment,
                   Account.arr, Account.licensed_seats).order_by(Account.external_id)
        ).all()  # fmt: skip
        contacts = session.execute(
            select(Contact.external_id, Contact.email, Contact.name, Account.external_id)
            .join(Account, Contact.account_id == Account.id).order_by(Contact.external_id)
        ).all()  # fmt: skip
        tickets = session.execute(
            select(Ticket.external_id, Account.external_id, Ticket.subject,
                   Ticket.requester_email, Ticket.priority, Ticket.status, Ticket.channel,
                   Ticket.satisfaction, Ticket.replies)
            .join(Account, Ticket.account_id == Account.id).order_by(Ticket.external_id)
        ).all()  # fmt: skip
        times = session.execute(
            select(Ticket.opened_at, Ticket.first_response_at, Ticket.solved_at)
            .order_by(Ticket.external_id)
        ).all()  # fmt: skip
    assert [tuple(row) for row in accounts] == [
        ("c1", "Acme", "acme.com", "mid_market", Decimal("12000.00"), 40),
        ("c2", "Globex", None, "smb", Decimal("0.00"), None),  # "n/a" names no domain
        ("c3", "initech-7", None, "enterprise", Decimal("0.00"), None),  # no name: company_id
    ]
    assert [tuple(row) for row in contacts] == [
        ("u1", "ann@acme.com", "Ann", "c1"),
        ("u2", "bob@globex.com", "Person u2", "c2"),  # the first of its companies
    ]
    assert [tuple(row) for row in tickets] == [
        ("v1", "c1", "Export fails", "ann@acme.com", "p2", "closed", "email", "good", 1),
        ("v2", "c2", "", "bob@globex.com", "p3", "on_hold", "chat", None, 2),
        ("v3", "c1", "", "ann@acme.com", "p3", "open", "chat", None, 0),
    ]
    assert [tuple(_utc(moment) for moment in row) for row in times] == [
        (at(T0), at(T0 + 600), at(T0 + HOUR)),
        (at(T0 + HOUR), at(T0 + 2 * HOUR), None),
        (at(T0 + 4 * HOUR), None, None),
    ]
    # Each conversation's contact is fetched once per sync, whatever its number of tickets.
    assert [r.path for r in intercom.sent("GET /contacts/{id}")] == ["/contacts/u1", "/contacts/u2"]
    assert {r.headers["intercom-version"] for r in intercom.requests} == {"2.11"}
    assert {r.body["sort"]["order"] for r in intercom.sent("POST /conversations/search")} == {
        "ascending"
    }


def _utc(moment: datetime | None) -> datetime | None:
    """A stored time as UTC (SQLite keeps no zone)."""
    return None if moment is None else moment.replace(tzinfo=UTC)


def test_the_next_sync_reads_only_what_changed_since(
    store: Store, intercom: FakeIntercom, connect: Connect
) -> None:
    fill(intercom)
    connector = connect()
    sync(store, connector)
    assert sync_state(store, "intercom", "conversations") == {
        "cursor": cursor(T0 + 5 * HOUR), "seen_at_cursor": ["v2", "v3"]}  # fmt: skip
    searches = len(intercom.sent("POST /contacts/search"))

    again = sync(store, connector)
    assert [(s.stream, s.read, s.written) for s in again.streams] == [
        ("companies", 3, 3),  # a scroll cannot be filtered: every company, every time
        ("contacts", 0, 0),
        ("conversations", 0, 0),
    ]
    contacts_query = intercom.sent("POST /contacts/search")[searches].body["query"]
    conversations_query = intercom.sent("POST /conversations/search")[-1].body["query"]
    # Contact searches compare by UTC day: asking for "> the day before" finds the cursor's day.
    assert contacts_query == {"operator": "AND", "value": [
        {"field": "role", "operator": "=", "value": "user"},
        {"field": "updated_at", "operator": ">", "value": T0 + 60 - DAY},
    ]}  # fmt: skip
    assert conversations_query == {"field": "updated_at", "operator": ">",
                                   "value": T0 + 5 * HOUR - 1}  # fmt: skip

    conversation = next(c for c in intercom.conversations if c["id"] == "v3")
    conversation.update(updated_at=T0 + 6 * HOUR, state="closed")
    intercom.add_conversation("v4", contact="u2", updated_at=T0 + 5 * HOUR)  # at the cursor
    intercom.add_contact("u3", updated_at=T0 + 60, companies=("c3",))  # at the cursor
    next(c for c in intercom.contacts if c["id"] == "u1")["updated_at"] = T0 + DAY
    third = sync(store, connector)
    assert [(s.stream, s.read) for s in third.streams] == [
        ("companies", 3), ("contacts", 2), ("conversations", 2)]  # fmt: skip
    with store.transaction() as session:
        assert session.scalar(select(Ticket.status).where(Ticket.external_id == "v3")) == "closed"
    assert (count(store, Contact), count(store, Ticket)) == (3, 4)


def test_records_that_share_an_update_time_across_pages_are_each_stored_once(
    store: Store, intercom: FakeIntercom, connect: Connect
) -> None:
    intercom.add_company("c1", updated_at=T0, custom_attributes={"segment": "smb"})
    intercom.add_contact("u1", updated_at=T0, companies=("c1",))
    for number in range(7):  # three at T0, three a second later, one two seconds later
        intercom.add_conversation(f"v{number}", contact="u1", updated_at=T0 + number // 3)
    report = sync(store, connect())
    assert report.streams[2].written == 7
    searches = intercom.sent("POST /conversations/search")
    assert len(searches) == 4  # pages of two
    assert [s.body["pagination"].get("starting_after") is None for s in searches] == [
        True, False, False, False]  # fmt: skip
    assert count(store, Ticket) == 7
    assert sync_state(store, "intercom", "conversations") == {
        "cursor": cursor(T0 + 2), "seen_at_cursor": ["v6"]}  # fmt: skip


def test_a_paginator_that_repeats_itself_fails_its_stream_and_keeps_its_pages(
    store: Store, intercom: FakeIntercom, connect: Connect
) -> None:
    intercom.add_company("c1", updated_at=T0, custom_attributes={"segment": "smb"})
    intercom.add_contact("u1", updated_at=T0, companies=("c1",))
    for number in range(6):
        intercom.add_conversation(f"v{number}", contact="u1", updated_at=T0 + number)
    intercom.repeat_next_page = True
    report = sync(store, connect())
    conversations = report.streams[2]
    assert conversations.status == "failed"
    assert conversations.error is not None
    assert "twice" in conversations.error
    assert count(store, Ticket) == 4  # the two pages read before the repetition are kept

    intercom.repeat_next_page = False
    assert sync(store, connect()).streams[2].read == 2  # resumed from the last checkpoint
    assert count(store, Ticket) == 6


# --8<-- [start:quarantine]
def test_a_malformed_record_is_quarantined_with_its_payload_and_the_sync_goes_on(
    store: Store, intercom: FakeIntercom, connect: Connect
) -> None:
    intercom.add_company("c1", updated_at=T0, custom_attributes={"segment": "smb"})
    unsegmented = intercom.add_company("c2", updated_at=T0)
    intercom.add_contact("u1", updated_at=T0, companies=("c1",))
    intercom.add_contact("u2", updated_at=T0, companies=("c1",), email="not an address")
    intercom.add_conversation("v1", contact="u1", updated_at=T0, priority="urgent")
    intercom.add_conversation("v2", contact="u1", updated_at=T0)
    report = sync(store, connect(default_segment=None))
    assert [(s.status, s.written, s.quarantined) for s in report.streams] == [
        ("succeeded", 1, 1), ("succeeded", 1, 1), ("succeeded", 1, 1)]  # fmt: skip
    with store.transaction() as session:
        quarantined = {row.record_key: row for row in session.scalars(select(QuarantinedRecord))}
    assert sorted(quarantined) == ["account:c2", "contact:u2", "ticket:v1"]
    assert quarantined["account:c2"].payload == unsegmented
    assert "segment" in quarantined["account:c2"].reason
    assert "email" in quarantined["contact:u2"].reason
    assert "priority" in quarantined["ticket:v1"].reason


# --8<-- [end:quarantine]


def test_company_id_links_each_account_to_the_source_it_names(
    store: Store, intercom: FakeIntercom, connect: Connect
) -> None:
    store.write([AccountRecord(source="salesforce", external_id="001A", name="Acme",
                               segment="enterprise")])  # fmt: skip
    intercom.add_company("c1", updated_at=T0, company_id="001A", name="Acme Inc")
    report = sync(store, connect(company_id_source="salesforce"), streams=["companies"])
    assert report.streams[0].written == 1
    with store.transaction() as session:
        linked = dict(
            session.execute(select(AccountIdentity.source, AccountIdentity.account_id)).all()
        )
    assert linked["intercom"] == linked["salesforce"]
    assert count(store, Account) == 1


@pytest.mark.parametrize(
    ("website", "domain"),
    [
        ("https://www.acme.com/about", "acme.com"),
        ("acme.com", "acme.com"),
        ("n/a", None),
        ("http://[acme", None),
        ("", None),
    ],
)
def test_an_account_domain_is_the_host_of_the_company_website(
    store: Store, intercom: FakeIntercom, connect: Connect, website: str, domain: str | None
) -> None:
    intercom.add_company("c1", updated_at=T0, website=website)
    sync(store, connect(), streams=["companies"])
    with store.transaction() as session:
        assert session.scalar(select(Account.domain)) == domain
