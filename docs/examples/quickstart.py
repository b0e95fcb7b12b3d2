"""Write an account and its contacts, then read them back with SQLAlchemy."""

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select

from cs_core import Account, AccountRecord, Contact, ContactRecord, Store

store = Store()  # CS_DATABASE_URL, or the SQLite file in your user data folder
store.upgrade()  # create or migrate the schema: the same as `cs db upgrade`

result = store.write(
    [
        AccountRecord(
            source="crm",
            external_id="001",
            name="Acme Corp",
            domain="acme.example.com",
            segment="Mid-Market",
            arr=Decimal("84000.00"),
            licensed_seats=120,
        ),
        ContactRecord(
            source="crm",
            external_id="c-17",
            account_external_id="001",
            email="dana@acme.example.com",
            is_champion=True,
            last_engaged_at=datetime(2026, 10, 30, 15, tzinfo=UTC),
        ),
    ]
)
print(result.written)  # {'account': 1, 'contact': 1}

with store.transaction() as session:
    account = session.scalars(select(Account).where(Account.external_id == "001")).one()
    champions = session.scalars(
        select(Contact.email).where(Contact.account_id == account.id, Contact.is_champion)
    ).all()
    print(account.name, account.segment.value, account.arr, champions)
    # Acme Corp mid_market 84000.00 ['dana@acme.example.com']
