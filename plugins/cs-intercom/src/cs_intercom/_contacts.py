"""The ``contacts`` stream: Intercom users (not leads) as contacts of their first company."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from cs_core import Candidate, ContactRecord
from cs_intercom._client import IntercomClient
from cs_intercom._json import as_mapping
from cs_intercom._search import SearchStream

__all__ = ["Contacts", "contact_fields", "first_company_id"]


class Contacts(SearchStream):
    """Users changed since the last sync. Leads, the anonymous visitors Intercom also keeps as
    contacts, belong to no customer and are left out."""

    name: ClassVar[str] = "contacts"
    path: ClassVar[str] = "/contacts/search"
    results: ClassVar[str] = "data"
    resolution: ClassVar[int] = 86_400
    """Intercom compares the timestamps of a contact search by UTC day, not by second."""

    def filters(self) -> list[dict[str, Any]]:
        return [{"field": "role", "operator": "=", "value": "user"}]

    def candidate(self, record: Mapping[str, Any], client: IntercomClient) -> Candidate:
        return Candidate(ContactRecord, contact_fields(record, self.source), record)


def contact_fields(contact: Mapping[str, Any], source: str) -> dict[str, Any]:
    """The contact fields of an Intercom user: the account is the user's first company."""
    fields = {
        "source": source,
        "external_id": contact.get("id"),
        "email": contact.get("email"),
        "name": contact.get("name"),
        "account_external_id": first_company_id(contact),
    }
    return {name: value for name, value in fields.items() if value is not None}


def first_company_id(contact: Mapping[str, Any]) -> str | None:
    """The Intercom id of the first company in a contact's ``companies`` list, if any."""
    companies = as_mapping(contact.get("companies")).get("data")
    if not isinstance(companies, list) or not companies:
        return None
    company_id = as_mapping(companies[0]).get("id")
    return company_id if isinstance(company_id, str) else None
