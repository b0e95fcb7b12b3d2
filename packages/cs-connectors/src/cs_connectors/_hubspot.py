"""The HubSpot connector: companies, contacts and deals from HubSpot's CRM.

Companies become accounts, contacts become contacts and deals become opportunities. A contact's
or a deal's account is its primary associated company, read through the v4 associations API
(search results carry no associations).

Every stream is read through HubSpot's search (``POST /crm/v3/objects/{object}/search``) on the
object's last-modified property, in ascending order, from ``>=`` the stored cursor; the records
already seen at the cursor are skipped (:class:`cs_core.CursorTracker`). One query of that search
returns at most 10,000 results, however it is paged (HubSpot answers 400 past them), so the time
range is cut into windows that each hold fewer: a window whose ``total`` reaches the cap is halved,
again and again, and a single millisecond that still holds as many fails the stream rather than
lose records. A first sync is the same search from the epoch. Each page is checkpointed. Records
changed in the last minute wait for the next sync: HubSpot's search index lags behind writes, and
a record indexed late behind the cursor would otherwise be skipped for good.

The client library is hubspot-api-client. Its urllib3 transport retries by itself unless told not
to, sleeping out ``Retry-After`` on GET requests, so it is told not to: 429, 5xx and connection
failures become :class:`cs_core.TransientError`, which the sync engine retries from the last
checkpoint with its own bounded backoff.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Generator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import cached_property
from typing import Any, ClassVar
from urllib.parse import urlsplit

import urllib3
from hubspot import HubSpot
from hubspot.crm.associations.v4 import (
    ApiException as AssociationsApiException,
)
from hubspot.crm.associations.v4 import (
    BatchInputPublicFetchAssociationsBatchRequest,
    PublicFetchAssociationsBatchRequest,
)
from hubspot.crm.objects import (
    ApiException as ObjectsApiException,
)
from hubspot.crm.objects import Filter, FilterGroup, PublicObjectSearchRequest
from hubspot.crm.owners import ApiException as OwnersApiException
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict
from urllib3.util.retry import Retry

from cs_core import (
    AccountRecord,
    Candidate,
    Checkpoint,
    Connector,
    ConnectorError,
    ConnectorSettings,
    ContactRecord,
    CursorTracker,
    OpportunityOutcome,
    OpportunityRecord,
    OpportunityType,
    PageGuard,
    Record,
    Segment,
    Stream,
    StreamItem,
    TransientError,
)

__all__ = ["HubSpotConnector", "HubSpotSettings"]

SOURCE = "hubspot"
SEARCH_RESULT_CAP = 10_000
"""The most results HubSpot's search returns for one query."""
_SEARCH_INDEX_DELAY = timedelta(minutes=1)
"""How far behind now a sync stops reading: HubSpot indexes changes for search within seconds."""
_ASSOCIATIONS_BATCH = 100
"""Objects per batch read of associations (HubSpot's limit for association batch reads)."""
_OWNERS_PAGE = 500
_NO_ASSOCIATIONS = "crm.associations.NO_ASSOCIATIONS_FOUND"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)
_NO_RETRIES = Retry(total=0)
"""Handed to urllib3: the sync engine, not the transport, decides when to try again."""


class HubSpotSettings(ConnectorSettings):
    """``CS_HUBSPOT_*``: the access token of a HubSpot private app (scopes
    ``crm.objects.companies.read``, ``crm.objects.contacts.read``, ``crm.objects.deals.read`` and,
    to name owners by e-mail, ``crm.objects.owners.read``) and which properties hold what."""

    model_config = SettingsConfigDict(env_prefix="CS_HUBSPOT_", extra="ignore", frozen=True)

    access_token: SecretStr
    host: str = "https://api.hubapi.com"
    """Where HubSpot's API answers; another address is for tests and proxies."""
    segment_property: str | None = None
    """The company property that holds the account's segment (enterprise, mid-market…)."""
    default_segment: Segment | None = None
    """The segment of a company whose segment property is empty; without one, such a company is
    quarantined."""
    owner_property: str = "hubspot_owner_id"
    """The company property naming its owner; owner ids become the owner's e-mail address.
    Empty: accounts have no owner."""
    arr_property: str | None = None
    """The company property that holds its annual recurring revenue, if any."""
    deal_type_property: str = "dealtype"
    deal_types: dict[str, OpportunityType] = Field(
        default_factory=lambda: {
            "newbusiness": OpportunityType.NEW,
            "existingbusiness": OpportunityType.EXPANSION,
        }
    )
    """Deal type values (HubSpot's internal names) and the opportunity type each stands for;
    other values are read as opportunity types themselves (``renewal``)."""
    default_deal_type: OpportunityType | None = None
    """The type of a deal without one; without it, such a deal is quarantined."""
    page_size: int = Field(default=200, ge=1, le=200)
    search_result_cap: int = Field(default=SEARCH_RESULT_CAP, ge=1, le=SEARCH_RESULT_CAP)
    """The results one search query may return: HubSpot's cap. Lower it only to test."""
    timeout: float = Field(default=60.0, gt=0)
    """Seconds a request may take before it counts as failed (and is retried)."""

    @field_validator("host")
    @classmethod
    def _check_host(cls, value: str) -> str:
        address = value.strip().rstrip("/")
        parts = urlsplit(address)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{value!r} is not an address such as https://api.hubapi.com")
        return address

    @field_validator("deal_types")
    @classmethod
    def _lower_deal_types(cls, value: dict[str, OpportunityType]) -> dict[str, OpportunityType]:
        return {name.strip().lower(): kind for name, kind in value.items()}


class _HubSpotApi:
    """The client library's API objects, built once (each opens its own connection pool), and
    the translation of its failures into the connector contract's errors."""

    def __init__(self, settings: HubSpotSettings) -> None:
        self.host = settings.host
        self.timeout = settings.timeout
        client = HubSpot(access_token=settings.access_token.get_secret_value(),
                         host=settings.host, retry=_NO_RETRIES)  # fmt: skip
        self.objects = client.crm.objects.basic_api
        self.search = client.crm.objects.search_api
        self.associations = client.crm.associations.v4.batch_api
        self.owners = client.crm.owners.owners_api

    @contextmanager
    def calling(self, doing: str) -> Iterator[None]:
        """Raise what HubSpot's failure while ``doing`` means to the sync engine."""
        try:
            yield
        except (ObjectsApiException, AssociationsApiException, OwnersApiException) as error:
            raise self._refusal(error, doing) from error
        except urllib3.exceptions.HTTPError as error:
            reason = getattr(error, "reason", None) or error
            message = (f"cannot reach HubSpot at {self.host} while {doing} ({reason}): "
                       "check CS_HUBSPOT_HOST and the network")  # fmt: skip
            if isinstance(reason, urllib3.exceptions.SSLError):
                raise ConnectorError(message) from error  # a certificate does not fix itself
            raise TransientError(message) from error

    def _refusal(self, error: Any, doing: str) -> ConnectorError:
        status = int(error.status or 0)
        detail = _hubspot_message(error.body) or str(error.reason)
        if status == 0:
            return ConnectorError(f"cannot reach HubSpot at {self.host} while {doing} ({detail}): "
                                  "check CS_HUBSPOT_HOST")  # fmt: skip
        if status == 401:
            return ConnectorError(
                f"HubSpot refused the access token while {doing} ({detail}): set "
                "CS_HUBSPOT_ACCESS_TOKEN to the access token of a private app"
            )
        if status == 403:
            return ConnectorError(
                f"HubSpot refused {doing} ({detail}): give the private app of "
                "CS_HUBSPOT_ACCESS_TOKEN the scope it needs"
            )
        retry_after = _retry_after(error.headers)
        if status == 429:
            return TransientError(f"HubSpot's rate limit stopped {doing}: {detail}",
                                  retry_after=retry_after)  # fmt: skip
        if status >= 500:
            return TransientError(f"HubSpot answered {status} while {doing}: {detail}",
                                  retry_after=retry_after)  # fmt: skip
        return ConnectorError(f"HubSpot answered {status} while {doing}: {detail}")


def _hubspot_message(body: Any) -> str:
    """The ``message`` of HubSpot's error body (with the rate limit's policy), else the body."""
    if not body:
        return ""
    text = body.decode(errors="replace") if isinstance(body, bytes) else str(body)
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return text[:300]
    if not isinstance(document, dict) or "message" not in document:
        return text[:300]
    policy = document.get("policyName")
    return f"{document['message']} ({policy})" if policy else str(document["message"])


def _retry_after(headers: Any) -> float | None:
    """``Retry-After`` in seconds (it may also be an HTTP date); ``None`` when absent."""
    value = headers.get("Retry-After") if headers else None
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max((moment - datetime.now(UTC)).total_seconds(), 0.0)


def _millis(moment: datetime) -> int:
    return (moment - _EPOCH) // _MILLISECOND


def _cursor_text(milliseconds: int) -> str:
    """An instant as HubSpot writes it, fixed-width so that text order is time order."""
    moment = _EPOCH + milliseconds * _MILLISECOND
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{milliseconds % 1000:03d}Z"


def _instant(text: str | None) -> datetime | None:
    """A HubSpot datetime value (ISO 8601, or epoch milliseconds); ``None`` if it is neither."""
    value = (text or "").strip()
    if value.isdigit():
        return _EPOCH + int(value) * _MILLISECOND
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _day(text: str | None) -> date | str | None:
    """A date property's day in UTC; a value that is no date is passed on, for validation to
    refuse and the engine to quarantine with its payload."""
    moment = _instant(text)
    return moment.date() if moment is not None else text


def _present(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The fields with a value: an empty property is a missing one, so the default applies."""
    return {
        name: value
        for name, value in fields.items()
        if value is not None and not (isinstance(value, str) and not value.strip())
    }


def _next_after(page: Any) -> str | None:
    paging = page.paging
    following = paging.next if paging is not None else None
    return None if following is None or following.after is None else str(following.after)


def _is_primary(target: Any) -> bool:
    return any(kind.label == "Primary" for kind in target.association_types or [])


class _SearchStream(Stream):
    """One kind of HubSpot object, read through the search API in windows of time."""

    object_type: ClassVar[str]
    model: ClassVar[type[Record]]
    modified_property: ClassVar[str] = "hs_lastmodifieddate"
    reads_companies: ClassVar[bool] = False
    """Whether its records name their account through an associated company."""

    def __init__(self, api: _HubSpotApi, settings: HubSpotSettings) -> None:
        self.api = api
        self.settings = settings

    @abstractmethod
    def properties(self) -> list[str]:
        """The properties to read."""

    @abstractmethod
    def fields(
        self, object_id: str, properties: Mapping[str, str | None], companies: Sequence[str]
    ) -> dict[str, Any]:
        """The record's fields; ``companies`` are its associated companies, primary first."""

    def read(self, state: Mapping[str, Any] | None) -> Iterator[StreamItem]:
        cursor = CursorTracker.from_state(state)
        until = _millis(datetime.now(UTC) - _SEARCH_INDEX_DELAY)
        windows = [(self._start(cursor), until)]  # a stack: the earliest window is on top
        while windows:
            low, high = windows.pop()
            if low >= high:
                continue
            first = self._search(low, high, after=None)
            total = int(first.total)
            if total >= self.settings.search_result_cap:
                if high - low == 1:
                    raise ConnectorError(
                        f"HubSpot holds {total} {self.object_type} last modified in the one "
                        f"millisecond {_cursor_text(low)}, and its search returns at most "
                        f"{self.settings.search_result_cap} results a query: stopping rather "
                        "than losing some of them"
                    )
                middle = low + (high - low) // 2
                windows += [(middle, high), (low, middle)]
                continue
            resume_at = yield from self._read_window(low, high, first, cursor)
            if resume_at is not None:
                windows.append((resume_at, high))
        yield Checkpoint(cursor.state)

    def _start(self, cursor: CursorTracker) -> int:
        if cursor.value is None:
            return 0
        moment = _instant(cursor.value)
        if moment is None:
            raise ConnectorError(
                f"the stored cursor of hubspot.{self.name}, {cursor.value!r}, is not a time: "
                "sync this stream again with a full refresh"
            )
        return _millis(moment)

    def _read_window(
        self, low: int, high: int, page: Any, cursor: CursorTracker
    ) -> Generator[StreamItem, None, int | None]:
        """Read a window of fewer results than the cap, page by page. Returns where to read on
        from if the window changed while it was paged, else ``None``."""
        total = int(page.total)
        guard = PageGuard(f"HubSpot's search of {self.object_type}")
        while True:
            fresh = [record for record in page.results or []
                     if cursor.is_new(self._modified(record), str(record.id))]  # fmt: skip
            yield from self._candidates(fresh)
            yield Checkpoint(cursor.state)
            after = _next_after(page)
            if after is None:
                return None
            page = self._search(low, high, after=guard.next(after))
            if int(page.total) != total:
                # Records left the window while it was paged (changed again, or deleted): the
                # offsets moved under the paging, so go on from the cursor instead.
                moment = _instant(cursor.value)
                return low if moment is None else max(low, _millis(moment))

    def _search(self, low: int, high: int, *, after: str | None) -> Any:
        request = PublicObjectSearchRequest(
            filter_groups=[FilterGroup(filters=[
                Filter(property_name=self.modified_property, operator="GTE", value=str(low)),
                Filter(property_name=self.modified_property, operator="LT", value=str(high)),
            ])],
            sorts=[{"propertyName": self.modified_property, "direction": "ASCENDING"}],
            properties=self.properties(),
            limit=self.settings.page_size,
            after=after,
        )  # fmt: skip
        doing = (f"searching {self.object_type} modified from {_cursor_text(low)} "
                 f"until {_cursor_text(high)}")  # fmt: skip
        with self.api.calling(doing):
            return self.api.search.do_search(self.object_type, request,
                                             _request_timeout=self.api.timeout)  # fmt: skip

    def _modified(self, record: Any) -> str:
        """The record's cursor value: its last-modified property, as fixed-width text."""
        properties = record.properties or {}
        moment = _instant(properties.get(self.modified_property)) or record.updated_at
        if not isinstance(moment, datetime):
            raise ConnectorError(
                f"HubSpot returned {self.object_type} {record.id} without a modification time"
            )
        return _cursor_text(_millis(moment.astimezone(UTC)))

    def _candidates(self, records: Sequence[Any]) -> Iterator[Candidate]:
        companies: dict[str, list[str]] = {}
        if self.reads_companies and records:
            companies = self._companies_of([str(record.id) for record in records])
        for record in records:
            object_id = str(record.id)
            properties = {str(name): value for name, value in (record.properties or {}).items()}
            payload: dict[str, Any] = {"id": object_id, "properties": properties}
            if self.reads_companies:
                payload["associations"] = {"companies": companies.get(object_id, [])}
            fields = self.fields(object_id, properties, companies.get(object_id, []))
            yield Candidate(self.model, _present(fields), payload)

    def _companies_of(self, object_ids: Sequence[str]) -> dict[str, list[str]]:
        """Each object's associated companies, the primary one first."""
        companies: dict[str, list[str]] = {}
        for start in range(0, len(object_ids), _ASSOCIATIONS_BATCH):
            batch = object_ids[start : start + _ASSOCIATIONS_BATCH]
            request = BatchInputPublicFetchAssociationsBatchRequest(
                inputs=[PublicFetchAssociationsBatchRequest(id=object_id) for object_id in batch]
            )
            with self.api.calling(f"reading the companies of {len(batch)} {self.object_type}"):
                answer = self.api.associations.get_page(
                    self.object_type, "companies", request, _request_timeout=self.api.timeout
                )
            # A 207 answer lists the objects without companies as errors; others are failures.
            for problem in getattr(answer, "errors", None) or []:
                if problem.sub_category != _NO_ASSOCIATIONS:
                    raise ConnectorError(
                        f"HubSpot could not read the companies of {self.object_type}: "
                        f"{problem.message}"
                    )
            for association in answer.results or []:
                # Only the first page of an object's companies is read: the primary company is
                # what names the account, and an object rarely has more than a page of them.
                targets = sorted(association.to or [], key=lambda target: not _is_primary(target))
                # The generated model calls the "from" field "_from" ("from" is a keyword).
                source_id = str(association._from.id)
                companies[source_id] = [str(target.to_object_id) for target in targets]
        return companies


class _Companies(_SearchStream):
    name: ClassVar[str] = "companies"
    object_type: ClassVar[str] = "companies"
    model = AccountRecord

    def __init__(self, api: _HubSpotApi, settings: HubSpotSettings) -> None:
        super().__init__(api, settings)
        self._owner_emails: dict[str, str] | None = None

    def read(self, state: Mapping[str, Any] | None) -> Iterator[StreamItem]:
        _require_segment(self.settings)
        yield from super().read(state)

    def properties(self) -> list[str]:
        optional = (self.settings.segment_property, self.settings.owner_property,
                    self.settings.arr_property)  # fmt: skip
        return ["name", "domain", self.modified_property, *(name for name in optional if name)]

    def fields(
        self, object_id: str, properties: Mapping[str, str | None], companies: Sequence[str]
    ) -> dict[str, Any]:
        settings = self.settings
        segment = properties.get(settings.segment_property) if settings.segment_property else None
        owner = properties.get(settings.owner_property) if settings.owner_property else None
        return {
            "source": SOURCE,
            "external_id": object_id,
            "name": properties.get("name"),
            "domain": properties.get("domain"),
            "segment": segment if segment and segment.strip() else settings.default_segment,
            "owner": self._owner(owner.strip()) if owner and owner.strip() else None,
            "arr": properties.get(settings.arr_property) if settings.arr_property else None,
        }

    def _owner(self, owner_id: str) -> str:
        """The e-mail address of the owner ``owner_id`` (a value that names no owner stays)."""
        if self._owner_emails is None:
            self._owner_emails = self._read_owners()
        return self._owner_emails.get(owner_id, owner_id)

    def _read_owners(self) -> dict[str, str]:
        emails: dict[str, str] = {}
        guard = PageGuard("HubSpot's owners")
        after: str | None = None
        while True:
            with self.api.calling("reading the owners"):
                page = self.api.owners.get_page(limit=_OWNERS_PAGE, after=after,
                                                _request_timeout=self.api.timeout)  # fmt: skip
            emails |= {str(owner.id): str(owner.email) for owner in page.results or []
                       if owner.email}  # fmt: skip
            following = _next_after(page)
            if following is None:
                return emails
            after = guard.next(following)


class _Contacts(_SearchStream):
    name: ClassVar[str] = "contacts"
    object_type: ClassVar[str] = "contacts"
    model = ContactRecord
    modified_property: ClassVar[str] = "lastmodifieddate"
    reads_companies: ClassVar[bool] = True

    def properties(self) -> list[str]:
        return ["email", "firstname", "lastname", "jobtitle", self.modified_property]

    def fields(
        self, object_id: str, properties: Mapping[str, str | None], companies: Sequence[str]
    ) -> dict[str, Any]:
        names = (properties.get("firstname"), properties.get("lastname"))
        return {
            "source": SOURCE,
            "external_id": object_id,
            "email": properties.get("email"),
            "name": " ".join(name.strip() for name in names if name and name.strip()),
            "title": properties.get("jobtitle"),
            "account_external_id": companies[0] if companies else None,
        }


class _Deals(_SearchStream):
    name: ClassVar[str] = "deals"
    object_type: ClassVar[str] = "deals"
    model = OpportunityRecord
    reads_companies: ClassVar[bool] = True

    def properties(self) -> list[str]:
        return ["dealname", "amount", "closedate", "dealstage", "pipeline",
                self.settings.deal_type_property, "hs_is_closed", "hs_is_closed_won",
                "deal_currency_code", self.modified_property]  # fmt: skip

    def fields(
        self, object_id: str, properties: Mapping[str, str | None], companies: Sequence[str]
    ) -> dict[str, Any]:
        return {
            "source": SOURCE,
            "external_id": object_id,
            "name": properties.get("dealname"),
            "type": self._type(properties.get(self.settings.deal_type_property)),
            "amount": properties.get("amount"),
            "currency": properties.get("deal_currency_code"),
            "stage": properties.get("dealstage"),
            "close_date": _day(properties.get("closedate")),
            "outcome": _outcome(properties),
            "account_external_id": companies[0] if companies else None,
        }

    def _type(self, value: str | None) -> OpportunityType | str | None:
        """The deal type's opportunity type; a value neither mapped nor an opportunity type is
        passed on, for validation to refuse."""
        if not value or not value.strip():
            return self.settings.default_deal_type
        return self.settings.deal_types.get(value.strip().lower(), value.strip())


def _outcome(properties: Mapping[str, str | None]) -> OpportunityOutcome:
    """Won or lost once closed, by HubSpot's calculated flags or the default pipeline's stages."""
    stage = (properties.get("dealstage") or "").strip().lower()
    if properties.get("hs_is_closed_won") == "true" or stage == "closedwon":
        return OpportunityOutcome.WON
    if properties.get("hs_is_closed") == "true" or stage == "closedlost":
        return OpportunityOutcome.LOST
    return OpportunityOutcome.OPEN


def _require_segment(settings: HubSpotSettings) -> None:
    if settings.segment_property is None and settings.default_segment is None:
        raise ConnectorError(
            "the HubSpot connector cannot tell accounts' segments: set CS_HUBSPOT_SEGMENT_PROPERTY "
            "to the company property that holds them, or CS_HUBSPOT_DEFAULT_SEGMENT"
        )


class HubSpotConnector(Connector):
    """Companies, contacts and deals from HubSpot, incrementally through its search API."""

    name: ClassVar[str] = "hubspot"
    settings_model: ClassVar[type[ConnectorSettings]] = HubSpotSettings

    @property
    def hubspot_settings(self) -> HubSpotSettings:
        return self.settings_as(HubSpotSettings)

    @cached_property
    def api(self) -> _HubSpotApi:
        return _HubSpotApi(self.hubspot_settings)

    def check(self) -> None:
        _require_segment(self.hubspot_settings)
        with self.api.calling("listing companies"):
            self.api.objects.get_page("companies", limit=1, _request_timeout=self.api.timeout)

    def streams(self) -> Sequence[Stream]:
        return [kind(self.api, self.hubspot_settings) for kind in (_Companies, _Contacts, _Deals)]
