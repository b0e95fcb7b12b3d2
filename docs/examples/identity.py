"""The same customer seen by a CRM, a marketing tool and a helpdesk is one account."""

from datetime import UTC, datetime

from sqlalchemy import select

from cs_core import (
    AccountIdentity,
    AccountRecord,
    Store,
    Ticket,
    TicketRecord,
    resolve_pending_accounts,
)

store = Store()
store.upgrade()

# The CRM introduces the account; it owns the account's attributes.
store.write(
    [
        AccountRecord(
            source="crm",
            external_id="001",
            name="Globex",
            domain="globex.example.com",
            segment="smb",
        )
    ]
)

# HubSpot knows it under another id: its domain ties it to the same account.
store.write(
    [
        AccountRecord(
            source="hubspot",
            external_id="5120",
            name="Globex Inc",
            domain="globex.example.com",
            segment="smb",
        )
    ]
)

# A ticket names no account, but its requester's e-mail domain does.
store.write(
    [
        TicketRecord(
            source="zendesk",
            external_id="9001",
            requester_email="hank@globex.example.com",
            priority="P2",
            status="open",
            opened_at=datetime(2026, 11, 2, 10, tzinfo=UTC),
        )
    ]
)

with store.transaction() as session:
    resolve_pending_accounts(session)  # ties records that arrived before their account
    for identity in session.scalars(select(AccountIdentity).order_by(AccountIdentity.source)):
        print(identity.source, identity.external_id, identity.account_id, identity.method.value)
    # crm 001 1 origin
    # hubspot 5120 1 email_domain
    ticket = session.scalars(select(Ticket)).one()
    print(ticket.account_id, ticket.resolution.value if ticket.resolution else None)
    # 1 email_domain
