"""The ``companies`` stream: Intercom companies as accounts, read through the scroll API."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import urlsplit

from cs_core import (
    AccountRecord,
    Candidate,
    Checkpoint,
    ConnectorError,
    PageGuard,
    Stream,
    StreamItem,
    TransientError,
)
from cs_intercom._client import IntercomClient, IntercomRequestError
from cs_intercom._json import as_mapping
from cs_intercom._settings import IntercomSettings

__all__ = ["Companies", "account_fields"]

SCROLL_EXPIRY_SECONDS = 60.0
"""An unused scroll expires after a minute, and a workspace may have one scroll open at once."""


class Companies(Stream):
    """Every company, as an account.

    Intercom's scroll API is the one that lists every company, but a scroll can be neither
    filtered by update time nor resumed: each read takes all companies from the first page.
    Writing an unchanged account again changes nothing, so the checkpoints after each page keep
    no position; they commit the page.
    """

    name: ClassVar[str] = "companies"

    def __init__(self, settings: IntercomSettings, source: str) -> None:
        self.settings = settings
        self.source = source

    def read(self, state: Mapping[str, Any] | None) -> Iterator[StreamItem]:
        # The scroll parameter may stay the same from page to page, so the guard watches the
        # first company of each page: a scroll that hands a page back twice would never end.
        guard = PageGuard("Intercom's company scroll")
        with IntercomClient(self.settings) as client:
            params: dict[str, str] = {}
            while True:
                page = _scroll(client, params)
                companies = page.get("data")
                if not isinstance(companies, list):
                    raise ConnectorError("Intercom's company scroll answered without a data list")
                if not companies:
                    return  # an empty page is the end of the scroll
                guard.next(str(as_mapping(companies[0]).get("id")))
                for company in map(as_mapping, companies):
                    fields = account_fields(company, self.settings, self.source)
                    yield Candidate(AccountRecord, fields, company)
                yield Checkpoint({})
                scroll_param = page.get("scroll_param")
                if not isinstance(scroll_param, str):
                    raise ConnectorError("Intercom's company scroll gave no scroll_param")
                params = {"scroll_param": scroll_param}


def _scroll(client: IntercomClient, params: Mapping[str, str]) -> dict[str, Any]:
    """One page of the scroll. A scroll that expired is started again; one that is already
    open (another program's, or this stream's before a failure) is waited out."""
    try:
        return client.get("/companies/scroll", params)
    except IntercomRequestError as error:
        if error.code == "scroll_exists":
            raise TransientError(
                f"{error}; another scroll of this workspace's companies is open",
                retry_after=SCROLL_EXPIRY_SECONDS,
            ) from error
        if error.status == 404 and "scroll_param" in params:
            raise TransientError(f"{error}; the scroll expired, starting it again") from error
        raise


def account_fields(
    company: Mapping[str, Any], settings: IntercomSettings, source: str
) -> dict[str, Any]:
    """The account fields of an Intercom company; what is wrong is left for validation to name.

    ``id`` (Intercom's own, which users and conversations refer to) is the external id;
    ``company_id``, the id you gave the company, links the account to the source named by
    ``CS_INTERCOM_COMPANY_ID_SOURCE``. ARR is twelve times ``monthly_spend``.
    """
    attributes = as_mapping(company.get("custom_attributes"))
    company_id = company.get("company_id")
    fields: dict[str, Any] = {
        "source": source,
        "external_id": company.get("id"),
        "name": company.get("name") or company_id,
        "domain": _domain(company.get("website")),
        "segment": attributes.get(settings.segment_attribute) or settings.default_segment,
        "arr": _annual(company.get("monthly_spend")),
    }
    if settings.seats_attribute is not None:
        fields["licensed_seats"] = attributes.get(settings.seats_attribute)
    if settings.company_id_source is not None and company_id:
        fields["same_as"] = {"source": settings.company_id_source, "external_id": company_id}
    # A missing value is left out, so that the record's default applies or validation says
    # the field is required.
    return {name: value for name, value in fields.items() if value is not None}


def _domain(website: object) -> str | None:
    """The host of the company's website, ``www.acme.com`` of ``https://www.acme.com/about``
    (the record drops the ``www.``). Free text such as ``n/a`` names no host: no domain."""
    if not isinstance(website, str) or not website.strip():
        return None
    address = website.strip()
    try:
        host = urlsplit(address if "//" in address else f"//{address}").hostname
    except ValueError:  # an address that cannot be parsed, "http://[acme" say
        return None
    return host if host and "." in host else None


def _annual(monthly_spend: object) -> object:
    """Twelve times a monthly amount; anything but a number is passed on for validation."""
    if isinstance(monthly_spend, int | float) and not isinstance(monthly_spend, bool):
        return Decimal(str(monthly_spend)) * 12
    return monthly_spend
