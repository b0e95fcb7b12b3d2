"""Bulk writes: idempotent upserts, one statement per page of rows, identity resolution."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError

from cs_core import (
    Account,
    AccountIdentity,
    AccountRecord,
    AccountRef,
    Contact,
    ContactRecord,
    ContractRecord,
    InvalidRecordError,
    OpportunityRecord,
    ProductLine,
    ResolutionMethod,
    Store,
    SurveyResponseRecord,
    Ticket,
    TicketRecord,
    resolve_pending_accounts,
)

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)


def acct(external_id: str, source: str = "crm", **fields: object) -> AccountRecord:
    defaults: dict[str, object] = {"name": f"Account {external_id}", "segment": "smb"}
    return AccountRecord(source=source, external_id=external_id, **(defaults | fields))


def raw_account(external_id: str, **fields: object) -> Account:
    """An account row added straight to the session, bypassing the records' validation."""
    defaults: dict[str, object] = {
        "name": external_id,
        "segment": "smb",
        "currency": "USD",
        "lifecycle_stage": "onboarding",
        "usage_limits": {},
        "created_at": NOW,
        "updated_at": NOW,
    }
    return Account(source="raw", external_id=external_id, **(defaults | fields))


@contextmanager
def counted_statements(store: Store) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(*args: object) -> None:
        words = str(args[2]).split()
        verb = words[0].upper()
        statements.append(f"{verb} {words[2]}" if verb == "INSERT" else verb)

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(store.engine, "before_cursor_execute", count)


def count_rows(store: Store, model: type) -> int:
    with store.transaction() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_writing_the_same_records_twice_changes_nothing(store: Store) -> None:
    records = [acct(f"A{i}", domain=f"a{i}.example.com", arr=Decimal("1000.10")) for i in range(5)]
    first = store.write(records)
    second = store.write(records)
    assert first.accounts_created == 5
    assert second.accounts_created == 0
    assert second.written == {"account": 5}
    assert count_rows(store, Account) == 5
    assert count_rows(store, AccountIdentity) == 5


def test_a_second_write_updates_the_fields(store: Store) -> None:
    store.write([acct("A1", arr=Decimal("10.00"), owner="ann@cs.example.com")])
    store.write([acct("A1", arr=Decimal("20.50"), owner="bob@cs.example.com", segment="PLG")])
    with store.transaction() as session:
        row = session.scalars(select(Account)).one()
    assert (row.arr, row.owner, row.segment.value) == (
        Decimal("20.50"),
        "bob@cs.example.com",
        "plg",
    )
    assert row.updated_at >= row.created_at
    assert row.created_at.tzinfo is UTC


def test_the_last_of_duplicate_records_in_a_batch_wins(store: Store) -> None:
    store.write([acct("A1", name="First"), acct("A1", name="Second")])
    with store.transaction() as session:
        assert session.scalars(select(Account.name)).all() == ["Second"]


def test_a_batch_costs_a_constant_number_of_statements(store: Store) -> None:
    accounts = [acct(f"A{i}") for i in range(2500)]
    contacts = [
        ContactRecord(
            source="crm",
            external_id=f"C{i}",
            account_external_id=f"A{i}",
            email=f"person{i}@a{i}.example.com",
        )
        for i in range(2500)
    ]
    with counted_statements(store) as statements:
        store.write([*accounts, *contacts])
    # Records are written 1,000 at a time; each thousand costs one INSERT for accounts, one for
    # their identities and one for contacts. The accounts touched are marked for rescoring once,
    # a statement per page of rows.
    inserts = [s for s in statements if s.startswith("INSERT")]
    assert [s for s in inserts if "accounts_to_rescore" not in s] == [
        "INSERT accounts",
        "INSERT account_identities",
    ] * 3 + ["INSERT contacts"] * 3, statements
    rescore_pages = 1 if store.dialect == "postgresql" else 3
    assert inserts.count("INSERT accounts_to_rescore") == rescore_pages
    # Plus a few lookups per thousand (contacts also look up their stored roles, to announce
    # changes; on SQLite the accounts' ids are read back by key) and one pass over records
    # awaiting an account: a count that depends on the thousands, never on the rows.
    assert len(statements) < 50, statements
    assert count_rows(store, Contact) == 2500


def test_every_kind_of_record_is_stored(store: Store) -> None:
    result = store.write(
        [
            acct("A1", domain="acme.example.com", licensed_seats=50, usage_limits={"api": 1000}),
            ContactRecord(
                source="crm",
                external_id="C1",
                account_external_id="A1",
                email="jo@acme.example.com",
                is_champion=True,
                last_engaged_at=NOW,
            ),
            ContractRecord(
                source="crm",
                external_id="K1",
                account_external_id="A1",
                start_date=date(2026, 1, 1),
                end_date=date(2027, 1, 1),
                arr=Decimal("12000"),
                products=(ProductLine(name="Core", seats=50),),
            ),
            OpportunityRecord(
                source="crm",
                external_id="O1",
                account_external_id="A1",
                name="Renewal",
                type="renewal",
                amount=Decimal("12000"),
                stage="Proposal",
                close_date=date(2027, 1, 1),
            ),
            TicketRecord(
                source="zendesk",
                external_id="T1",
                requester_email="jo@acme.example.com",
                priority="p1",
                status="open",
                opened_at=NOW,
            ),
            SurveyResponseRecord(
                source="survey",
                external_id="S1",
                account_external_id="A1",
                account_source="crm",
                survey="nps",
                score=9,
                responded_at=NOW,
            ),
        ]
    )
    assert result.written == {
        "account": 1,
        "contact": 1,
        "contract": 1,
        "opportunity": 1,
        "ticket": 1,
        "survey response": 1,
    }
    assert result.unresolved == 0


class TestIdentityResolution:
    def test_an_account_seen_in_another_source_with_its_domain_is_the_same_account(
        self, store: Store
    ) -> None:
        store.write([acct("001", domain="acme.example.com", name="Acme (CRM)")])
        result = store.write([acct("h-9", source="hubspot", domain="acme.example.com")])
        assert result.accounts_created == 0
        with store.transaction() as session:
            identity = session.get(AccountIdentity, ("hubspot", "h-9"))
            assert identity is not None
            assert identity.method is ResolutionMethod.EMAIL_DOMAIN
            assert identity.evidence == "acme.example.com"
            # The source that introduced the account keeps owning its attributes.
            assert session.scalars(select(Account.name)).all() == ["Acme (CRM)"]

    def test_two_accounts_of_one_source_sharing_a_domain_stay_apart(self, store: Store) -> None:
        result = store.write(
            [acct("P", domain="group.example.com"), acct("S", domain="group.example.com")]
        )
        assert result.accounts_created == 2

    def test_an_ambiguous_domain_does_not_merge(self, store: Store) -> None:
        store.write([acct("P", domain="group.example.com"), acct("S", domain="group.example.com")])
        result = store.write([acct("x", source="hubspot", domain="group.example.com")])
        assert result.accounts_created == 1

    def test_same_as_links_explicitly(self, store: Store) -> None:
        store.write([acct("001")])
        store.write(
            [acct("77", source="hubspot", same_as=AccountRef(source="crm", external_id="001"))]
        )
        with store.transaction() as session:
            identity = session.get(AccountIdentity, ("hubspot", "77"))
            assert identity is not None
            assert (identity.method, identity.evidence) == (ResolutionMethod.EXPLICIT, "crm:001")
        assert count_rows(store, Account) == 1

    def test_same_as_an_unknown_account_rejects_the_whole_batch(self, store: Store) -> None:
        batch = [
            acct("fine"),
            acct("77", source="hubspot", same_as=AccountRef(source="crm", external_id="nope")),
        ]
        with pytest.raises(InvalidRecordError) as caught:
            store.write(batch)
        assert str(caught.value).startswith("account hubspot:77: field 'same_as'")
        assert "crm:nope" in str(caught.value)
        assert count_rows(store, Account) == 0

    def test_records_resolve_by_reference_domain_or_later(self, store: Store) -> None:
        store.write([acct("A1", domain="acme.example.com")])
        result = store.write(
            [
                TicketRecord(
                    source="crm",
                    external_id="T-ref",
                    account_external_id="A1",
                    priority="p2",
                    status="open",
                    opened_at=NOW,
                ),
                TicketRecord(
                    source="zendesk",
                    external_id="T-cross",
                    account_external_id="A1",
                    account_source="crm",
                    priority="p2",
                    status="open",
                    opened_at=NOW,
                ),
                TicketRecord(
                    source="zendesk",
                    external_id="T-mail",
                    requester_email="someone@ACME.example.com",
                    priority="p3",
                    status="open",
                    opened_at=NOW,
                ),
                TicketRecord(
                    source="zendesk",
                    external_id="T-later",
                    account_external_id="B1",
                    account_source="crm",
                    priority="p4",
                    status="open",
                    opened_at=NOW,
                ),
            ]
        )
        assert result.unresolved == 1
        assert store.write([acct("B1")]).resolved_pending == 1
        with store.transaction() as session:
            assert resolve_pending_accounts(session) == 0
            resolved = dict(session.execute(select(Ticket.external_id, Ticket.resolution)).all())
        assert resolved == {
            "T-ref": ResolutionMethod.EXTERNAL_ID,
            "T-cross": ResolutionMethod.EXPLICIT,
            "T-mail": ResolutionMethod.EMAIL_DOMAIN,
            "T-later": ResolutionMethod.EXPLICIT,
        }

    def test_contacts_wait_for_a_domain_that_arrives_later(self, store: Store) -> None:
        store.write([ContactRecord(source="zd", external_id="U1", email="eve@late.example.com")])
        assert store.write([acct("L", domain="late.example.com")]).resolved_pending == 1
        with store.transaction() as session:
            contact = session.scalars(select(Contact)).one()
            assert contact.resolution is ResolutionMethod.EMAIL_DOMAIN
            assert contact.account_id is not None


def test_pending_records_can_be_resolved_explicitly(store: Store) -> None:
    # Accounts written by other means than write_records (a bulk import, SQL) are picked up too.
    store.write([ContactRecord(source="zd", external_id="U1", email="eve@raw.example.com")])
    with store.transaction() as session:
        session.add(raw_account("R", domain="raw.example.com"))
        session.flush()
        assert resolve_pending_accounts(session) == 1
        assert session.scalars(select(Contact.account_id)).one() is not None


def test_hierarchies_link_whichever_arrives_first(store: Store) -> None:
    store.write([acct("child-1", parent_external_id="parent")])
    store.write([acct("parent"), acct("child-2", parent_external_id="parent")])
    with store.transaction() as session:
        ids = dict(session.execute(select(Account.external_id, Account.id)).all())
        parents = dict(session.execute(select(Account.external_id, Account.parent_id)).all())
    assert parents == {"child-1": ids["parent"], "child-2": ids["parent"], "parent": None}


def test_a_failing_batch_leaves_the_store_unchanged(store: Store) -> None:
    store.write([acct("kept", name="Before")])
    with pytest.raises(InvalidRecordError):
        store.write(
            [
                acct("kept", name="After"),
                acct("new"),
                acct("bad", source="hubspot", same_as=AccountRef(source="crm", external_id="?")),
            ]
        )
    with store.transaction() as session:
        assert session.scalars(select(Account.name)).all() == ["Before"]


def test_constraints_back_the_records_validation(store: Store) -> None:
    # Rows that bypass the pydantic records still cannot break the domain's rules.
    with pytest.raises(IntegrityError), store.transaction() as session:
        session.add(raw_account("neg", arr=Decimal("-1")))
    assert count_rows(store, Account) == 0
