"""The Zendesk connector: organizations, end-users, tickets and CSAT ratings from Zendesk Support.

It reads with `zenpy`_. Set ``CS_ZENDESK_SUBDOMAIN`` (``acme`` for acme.zendesk.com) and sign in
with an administrator's ``CS_ZENDESK_EMAIL`` and an API token, ``CS_ZENDESK_TOKEN``, or with an
OAuth access token, ``CS_ZENDESK_OAUTH_TOKEN`` (the incremental exports are for administrators).
``CS_ZENDESK_BASE_URL`` sends every request to another address instead (a proxy, a local fake);
without it, zenpy's own ``ZENPY_FORCE_NETLOC`` and ``ZENPY_FORCE_SCHEME`` also apply.

Streams, in order, each from Zendesk's incremental export of its kind, checkpointed after every
page:

* ``organizations`` → accounts: ``name``, the first of ``domain_names``, and the segment from the
  organization field ``CS_ZENDESK_SEGMENT_FIELD`` (default ``segment``), or
  ``CS_ZENDESK_DEFAULT_SEGMENT`` where it is empty. Zendesk exports organizations by time only:
  the stream asks again from the last ``updated_at`` and skips what it read at that second
  (:class:`~cs_core.CursorTracker`).
* ``users`` → contacts: end-users only (agents and admins are staff), with their organization as
  the account. Cursor-based export: the state is Zendesk's ``after_cursor``.
* ``tickets`` → tickets: priority (urgent, high, normal, low: P1 to P4; none set: P3, as Zendesk
  treats it), status (``hold``: on hold), channel (``via.channel``), and from the sideloaded
  metric set the first reply (``reply_time_in_minutes``), ``solved_at`` and ``replies``;
  satisfaction from ``satisfaction_rating``. Cursor-based export.
* ``satisfaction_ratings`` → CSAT survey responses (good: 5, bad: 1): the received ratings (not
  those only offered) created since the last one read (Zendesk records a changed rating as a new
  one); the respondent's e-mail address and organization come from their user.

Deleted organizations, users and tickets are removed from the store. A record that does not fit
(no segment, an unknown priority, no e-mail address) is quarantined with its payload by the sync
engine; for a ticket that is ``{"ticket": …, "metric_set": …}``, for a rating
``{"satisfaction_rating": …, "requester": …}``.

zenpy builds the URLs and holds the authenticated session, but the pages are requested one by one
through its low-level ``_get``, because its result generators drop ``include=`` after the first
page and never attach the sideloaded metric sets to the tickets. zenpy also sleeps through the
``Retry-After`` of a 429 itself, however long: an adapter on its session turns 429, 5xx and lost
connections into :class:`~cs_core.TransientError` before zenpy sees them, so the sync engine
decides how long to wait, and resumes from the last checkpoint.

.. _zenpy: https://github.com/facetoe/zenpy
"""

from __future__ import annotations

import re
from abc import abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, ClassVar, Final
from urllib.parse import SplitResult, quote, urlsplit, urlunsplit

import requests
from pydantic import AnyHttpUrl, EmailStr, PositiveFloat, SecretStr, field_validator
from requests.adapters import HTTPAdapter
from zenpy import Zenpy
from zenpy.lib.exception import APIException

from cs_core import (
    AccountRecord,
    Candidate,
    Checkpoint,
    ConfigurationError,
    Connector,
    ConnectorError,
    ConnectorSettings,
    ContactRecord,
    CursorTracker,
    Deletion,
    PageGuard,
    Segment,
    Stream,
    StreamItem,
    SurveyKind,
    SurveyResponseRecord,
    TicketChannel,
    TicketPriority,
    TicketRecord,
    TicketSatisfaction,
    TicketStatus,
    TransientError,
)

__all__ = ["ZendeskConnector", "ZendeskSettings"]

_SOURCE: Final = "zendesk"
_SUBDOMAIN: Final = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_ENV: Final = "CS_ZENDESK_"
_PRIORITIES: Final[Mapping[str | None, TicketPriority]] = {
    "urgent": TicketPriority.P1,
    "high": TicketPriority.P2,
    "normal": TicketPriority.P3,
    "low": TicketPriority.P4,
    None: TicketPriority.P3,
}
_STATUSES: Final[Mapping[str, TicketStatus]] = {
    "new": TicketStatus.NEW,
    "open": TicketStatus.OPEN,
    "pending": TicketStatus.PENDING,
    "hold": TicketStatus.ON_HOLD,
    "solved": TicketStatus.SOLVED,
    "closed": TicketStatus.CLOSED,
}
_CHANNELS: Final[Mapping[str, TicketChannel]] = {
    "email": TicketChannel.EMAIL,
    "web": TicketChannel.WEB,
    "web_widget": TicketChannel.WEB,
    "help_center": TicketChannel.WEB,
    "chat": TicketChannel.CHAT,
    "native_messaging": TicketChannel.CHAT,
    "voice": TicketChannel.PHONE,
    "api": TicketChannel.API,
}
_SATISFACTION: Final[Mapping[str, TicketSatisfaction]] = {
    "good": TicketSatisfaction.GOOD,
    "bad": TicketSatisfaction.BAD,
}
_NOT_RATED: Final = frozenset({"offered", "unoffered"})
_CSAT_SCORES: Final[Mapping[str, int]] = {"good": 5, "bad": 1}


class ZendeskSettings(ConnectorSettings):
    """``CS_ZENDESK_SUBDOMAIN``; ``CS_ZENDESK_EMAIL`` with ``CS_ZENDESK_TOKEN``, or
    ``CS_ZENDESK_OAUTH_TOKEN``; ``CS_ZENDESK_SEGMENT_FIELD`` and ``CS_ZENDESK_DEFAULT_SEGMENT``;
    ``CS_ZENDESK_BASE_URL`` and ``CS_ZENDESK_TIMEOUT`` (seconds per request)."""

    subdomain: str
    email: EmailStr | None = None
    token: SecretStr | None = None
    oauth_token: SecretStr | None = None
    segment_field: str = "segment"
    default_segment: Segment | None = None
    base_url: AnyHttpUrl | None = None
    timeout: PositiveFloat = 60.0

    @field_validator("subdomain")
    @classmethod
    def _bare_subdomain(cls, value: str) -> str:
        subdomain = value.strip().lower()
        if not _SUBDOMAIN.fullmatch(subdomain):
            raise ValueError(
                f"{value!r} is not a Zendesk subdomain: give 'acme' for acme.zendesk.com"
            )
        return subdomain

    @field_validator("base_url")
    @classmethod
    def _origin_only(cls, value: AnyHttpUrl | None) -> AnyHttpUrl | None:
        if value is not None and (value.path not in (None, "", "/") or value.query):
            raise ValueError(
                "give the scheme, host and port only, as https://zendesk-proxy.example.com:8443"
            )
        return value


def _secret(value: SecretStr | None) -> str | None:
    """A secret's text; an empty one (a variable set to nothing) is none."""
    return None if value is None else value.get_secret_value() or None


def _credentials_problem(settings: ZendeskSettings) -> str | None:
    """What is wrong with the sign-in settings, if anything."""
    token, oauth_token = _secret(settings.token), _secret(settings.oauth_token)
    if oauth_token is not None:
        if token is not None:
            return f"set {_ENV}TOKEN or {_ENV}OAUTH_TOKEN, not both"
        return None
    if token is None:
        return f"set {_ENV}EMAIL and {_ENV}TOKEN (an API token), or {_ENV}OAUTH_TOKEN"
    if settings.email is None:
        return f"set {_ENV}EMAIL: the address of the administrator whose API token this is"
    return None


class _TransientAsErrors(HTTPAdapter):
    """Mounted on zenpy's session: a 429, a 5xx or a lost connection raises
    :class:`TransientError` (with ``Retry-After``) instead of reaching zenpy, which would sleep
    through the wait itself or hand back a failure the engine could not tell was passing.

    Nothing is retried here (zenpy's own adapter retried 503s out of the engine's sight)."""

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        where = urlsplit(request.url or "")
        try:
            response = super().send(request, stream=stream, timeout=timeout, verify=verify,
                                    cert=cert, proxies=proxies)  # fmt: skip
            # Read the body here, so that a connection lost halfway is transient too.
            _ = response.content
        except requests.exceptions.SSLError as error:
            raise ConnectorError(
                f"TLS with {where.netloc} failed ({error}): if a proxy inspects TLS, give its "
                "CA bundle in REQUESTS_CA_BUNDLE"
            ) from None
        except (requests.ConnectionError, requests.Timeout) as error:
            raise TransientError(f"cannot connect to Zendesk at {where.netloc}: {error}") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientError(
                f"Zendesk answered {response.status_code} to {where.path}",
                retry_after=_retry_after(response.headers.get("Retry-After")),
            )
        return response


def _retry_after(value: str | None) -> float | None:
    """Zendesk's ``Retry-After``: a number of seconds."""
    try:
        return None if value is None else max(float(value), 0.0)
    except ValueError:
        return None


class _Client:
    """zenpy's authenticated session and URL building, with pages read explicitly as JSON."""

    def __init__(self, settings: ZendeskSettings) -> None:
        self.settings = settings
        self.zenpy: Any = Zenpy(
            subdomain=settings.subdomain,
            email=settings.email,
            token=_secret(settings.token),
            oauth_token=_secret(settings.oauth_token),
            timeout=settings.timeout,
            disable_cache=True,
        )
        session: requests.Session = self.zenpy.tickets.session  # one session for every API
        adapter = _TransientAsErrors()
        for prefix in ("https://", "http://"):
            session.mount(prefix, adapter)
        self.base: SplitResult | None = (
            None if settings.base_url is None else urlsplit(str(settings.base_url))
        )

    def me(self) -> dict[str, Any]:
        """The user the credentials stand for."""
        user = self._get(self.zenpy.users, self.zenpy.users.endpoint.me()).get("user")
        return user if isinstance(user, dict) else {}

    def organizations(self, start_time: int) -> dict[str, Any]:
        """A page of the time-based organization export."""
        api = self.zenpy.organizations
        return self._get(api, api.endpoint.incremental(start_time=start_time))

    def export(self, kind: str, cursor: str | None, include: str | None) -> dict[str, Any]:
        """A page of the cursor-based export of ``users`` or ``tickets``: the first one without
        a cursor. ``include`` sideloads; it is asked for on every page (``after_url`` drops it)."""
        api = getattr(self.zenpy, kind)
        if cursor is None:
            endpoint = api.endpoint.incremental.cursor_start(start_time=0, include=include)
        else:
            # zenpy puts the cursor into the URL as it is: quote it, in case it holds + or /.
            endpoint = api.endpoint.incremental.cursor(cursor=quote(cursor, safe=""),
                                                       include=include)  # fmt: skip
        return self._get(api, endpoint)

    def received_ratings(self, start_time: int, after: str | None) -> dict[str, Any]:
        """A page of the satisfaction ratings received (good or bad) since ``start_time``."""
        api = self.zenpy.satisfaction_ratings
        endpoint = api.endpoint(score="received", start_time=start_time)
        if after is not None:
            endpoint.params["page[after]"] = quote(after, safe="")
        return self._get(api, endpoint)

    def users(self, identifiers: Iterable[int]) -> dict[Any, dict[str, Any]]:
        """Users by id (at most 100, as ``show_many`` takes)."""
        wanted = sorted(set(identifiers))
        if not wanted:
            return {}
        page = self._get(self.zenpy.users, self.zenpy.users.endpoint(ids=wanted))
        return {user.get("id"): user for user in _listed(page, "users")}

    def _get(self, api: Any, endpoint: Any) -> dict[str, Any]:
        url = self._url(api, endpoint)
        try:
            response: requests.Response = api._get(url, raw_response=True)
        except (APIException, requests.HTTPError) as error:
            raise self._refusal(error.response, url) from None
        try:
            body = response.json()
        except requests.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            raise ConnectorError(
                f"Zendesk's answer to {urlsplit(url).path} is not a JSON object: "
                f"{response.text[:200]!r}"
            )
        return body

    def _url(self, api: Any, endpoint: Any) -> str:
        url: str = api._build_url(endpoint)
        if self.base is None:
            return url
        return urlunsplit(urlsplit(url)._replace(scheme=self.base.scheme, netloc=self.base.netloc))

    def _refusal(self, response: requests.Response | None, url: str) -> ConnectorError:
        where = urlsplit(url)
        status = None if response is None else response.status_code
        detail = "" if response is None else response.text[:300]
        if status == 401:
            return ConnectorError(
                f"Zendesk refused the credentials ({detail}): check {_ENV}EMAIL and "
                f"{_ENV}TOKEN, or {_ENV}OAUTH_TOKEN"
            )
        if status == 403:
            return ConnectorError(
                f"Zendesk forbade {where.path} ({detail}): the exports need an administrator's "
                f"credentials in {_ENV}EMAIL and {_ENV}TOKEN, or {_ENV}OAUTH_TOKEN"
            )
        if status == 404:
            settings = f"{_ENV}SUBDOMAIN" + (f" and {_ENV}BASE_URL" if self.base else "")
            return ConnectorError(
                f"{where.scheme}://{where.netloc} has no {where.path} ({detail}): check {settings}"
            )
        return ConnectorError(f"Zendesk answered {status} to {where.path}: {detail}")


def _listed(page: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
    """The records a page lists under ``key``; a page without them is not Zendesk's."""
    records = page.get(key)
    if not isinstance(records, list):
        raise ConnectorError(f"Zendesk's page has no list {key!r}: {str(page)[:200]}")
    return [record for record in records if isinstance(record, dict)]


def _seconds(moment: str) -> int:
    """A Zendesk time (``2024-01-02T03:04:05Z``) in Unix seconds."""
    return int(datetime.fromisoformat(moment).timestamp())


def _identifier(value: object) -> str | None:
    return None if value is None else str(value)


def _place(record: Mapping[str, Any], field: str, kind: str) -> tuple[str, str]:
    """A record's cursor value (its ``field`` time) and key, which every export gives."""
    moment = record.get(field)
    if not isinstance(moment, str):
        raise ConnectorError(f"Zendesk sent a {kind} record without {field}: {str(record)[:200]}")
    return moment, str(record.get("id"))


class _ZendeskStream(Stream):
    """A stream read through the connector's one client."""

    def __init__(self, client: _Client) -> None:
        self.client = client


class _Organizations(_ZendeskStream):
    name: ClassVar[str] = "organizations"

    def read(self, state: Mapping[str, Any] | None) -> Iterator[StreamItem]:
        cursor = CursorTracker.from_state(state)
        guard = PageGuard("zendesk organizations")
        while True:
            # ">= start_time": the organizations at the cursor's second come back, and those
            # already read are skipped; all before it were read, as the export is in order.
            start_time = 0 if cursor.value is None else _seconds(cursor.value)
            guard.next(str(start_time))
            page = self.client.organizations(start_time)
            for organization in _listed(page, "organizations"):
                if cursor.is_new(*_place(organization, "updated_at", "organization")):
                    yield self.item(organization)
            yield Checkpoint(cursor.state)
            if page.get("end_of_stream", True):
                return

    def item(self, organization: Mapping[str, Any]) -> StreamItem:
        external_id = _identifier(organization.get("id"))
        if organization.get("deleted_at") and external_id is not None:
            return Deletion(AccountRecord, _SOURCE, external_id)
        settings = self.client.settings
        fields: dict[str, Any] = {"source": _SOURCE, "external_id": external_id,
                                  "name": organization.get("name")}  # fmt: skip
        domains = organization.get("domain_names") or []
        if domains:
            fields["domain"] = domains[0]
        segment = (organization.get("organization_fields") or {}).get(settings.segment_field)
        if segment or settings.default_segment is not None:
            fields["segment"] = segment or settings.default_segment
        return Candidate(AccountRecord, fields, organization)


class _CursorExport(_ZendeskStream):
    """A cursor-based export: the state is the cursor after the last page committed."""

    include: ClassVar[str | None] = None

    def read(self, state: Mapping[str, Any] | None) -> Iterator[StreamItem]:
        cursor = state.get("cursor") if state else None
        guard = PageGuard(f"zendesk {self.name}")
        while True:
            page = self.client.export(self.name, cursor and guard.next(cursor), self.include)
            yield from self.items(page)
            cursor = page.get("after_cursor")
            if not isinstance(cursor, str):
                raise ConnectorError(f"Zendesk's {self.name} export page has no after_cursor")
            yield Checkpoint({"cursor": cursor})
            if page.get("end_of_stream", True):
                return

    @abstractmethod
    def items(self, page: Mapping[str, Any]) -> Iterator[StreamItem]:
        """The items of one page."""


class _Users(_CursorExport):
    name: ClassVar[str] = "users"

    def items(self, page: Mapping[str, Any]) -> Iterator[StreamItem]:
        for user in _listed(page, "users"):
            if user.get("role") != "end-user":
                continue  # agents and admins are the support staff, not customer contacts
            external_id = _identifier(user.get("id"))
            if user.get("active") is False and external_id is not None:
                yield Deletion(ContactRecord, _SOURCE, external_id)  # Zendesk deleted them
                continue
            fields = {"source": _SOURCE, "external_id": external_id, "email": user.get("email"),
                      "name": user.get("name"),
                      "account_external_id": _identifier(user.get("organization_id"))}  # fmt: skip
            yield Candidate(ContactRecord, fields, user)


class _Tickets(_CursorExport):
    name: ClassVar[str] = "tickets"
    include = "metric_sets"

    def items(self, page: Mapping[str, Any]) -> Iterator[StreamItem]:
        tickets = _listed(page, "tickets")
        sideloaded = _listed(page, "metric_sets") if tickets else []
        metrics = {metric.get("ticket_id"): metric for metric in sideloaded}
        for ticket in tickets:
            external_id = _identifier(ticket.get("id"))
            if ticket.get("status") == "deleted" and external_id is not None:
                yield Deletion(TicketRecord, _SOURCE, external_id)
                continue
            metric = metrics.get(ticket.get("id"))
            yield Candidate(TicketRecord, _ticket_fields(ticket, metric or {}),
                            {"ticket": ticket, "metric_set": metric})  # fmt: skip


def _ticket_fields(ticket: Mapping[str, Any], metric: Mapping[str, Any]) -> dict[str, Any]:
    """A ticket's record fields; a value that does not map is passed on as it came, for the
    engine to refuse and quarantine with the ticket."""
    channel: Any = (ticket.get("via") or {}).get("channel")
    rating: Any = (ticket.get("satisfaction_rating") or {}).get("score")
    fields: dict[str, Any] = {
        "source": _SOURCE,
        "external_id": _identifier(ticket.get("id")),
        "account_external_id": _identifier(ticket.get("organization_id")),
        "subject": ticket.get("subject") or "",
        "priority": _translated(_PRIORITIES, ticket.get("priority")),
        "status": _translated(_STATUSES, ticket.get("status")),
        "channel": _CHANNELS.get(channel, TicketChannel.OTHER),
        "opened_at": ticket.get("created_at"),
        "solved_at": metric.get("solved_at"),
        "replies": metric.get("replies"),
        "satisfaction": None if rating in _NOT_RATED else _translated(_SATISFACTION, rating),
    }
    first_reply = (metric.get("reply_time_in_minutes") or {}).get("calendar")
    opened = ticket.get("created_at")
    if isinstance(first_reply, int | float) and isinstance(opened, str):
        with suppress(ValueError):  # opened_at is not a time: validation names it
            fields["first_response_at"] = datetime.fromisoformat(opened) + timedelta(
                minutes=first_reply
            )
    return fields


def _translated(table: Mapping[Any, Any], value: Any) -> Any:
    """``value`` in the record's terms; one the table does not know is passed on as it is."""
    return table.get(value, value)


class _SatisfactionRatings(_ZendeskStream):
    name: ClassVar[str] = "satisfaction_ratings"

    def read(self, state: Mapping[str, Any] | None) -> Iterator[StreamItem]:
        cursor = CursorTracker.from_state(state)
        guard = PageGuard("zendesk satisfaction_ratings")
        # One second back from the cursor: whether start_time counts from or after that
        # second, every rating of it comes back, and those before it are skipped as old.
        start_time = 0 if cursor.value is None else max(_seconds(cursor.value) - 1, 0)
        after: str | None = None
        while True:
            page = self.client.received_ratings(start_time, after and guard.next(after))
            ratings = [
                rating for rating in _listed(page, "satisfaction_ratings")
                if cursor.is_new(*_place(rating, "created_at", "satisfaction rating"))
            ]  # fmt: skip
            requesters = self.client.users(
                rating["requester_id"] for rating in ratings
                if isinstance(rating.get("requester_id"), int)
            )  # fmt: skip
            for rating in ratings:
                requester_id: Any = rating.get("requester_id")
                requester = requesters.get(requester_id)
                payload = {"satisfaction_rating": rating, "requester": requester}
                yield Candidate(SurveyResponseRecord,
                                _response_fields(rating, requester or {}), payload)  # fmt: skip
            yield Checkpoint(cursor.state)
            meta = page.get("meta") or {}
            if not meta.get("has_more"):
                return
            after = meta.get("after_cursor")
            if not isinstance(after, str):
                raise ConnectorError("Zendesk's satisfaction ratings page has more, but no cursor")


def _response_fields(rating: Mapping[str, Any], requester: Mapping[str, Any]) -> dict[str, Any]:
    score: Any = rating.get("score")
    return {
        "source": _SOURCE,
        "external_id": _identifier(rating.get("id")),
        "survey": SurveyKind.CSAT,
        "score": _translated(_CSAT_SCORES, score),
        "comment": rating.get("comment") or None,
        "responded_at": rating.get("created_at"),
        "respondent_email": requester.get("email"),
        "account_external_id": _identifier(requester.get("organization_id")),
    }


class ZendeskConnector(Connector):
    """Organizations, end-users, tickets with their metrics, and CSAT ratings from Zendesk."""

    name: ClassVar[str] = "zendesk"
    settings_model: ClassVar[type[ConnectorSettings]] = ZendeskSettings

    def __init__(self, settings: ZendeskSettings) -> None:
        problem = _credentials_problem(settings)
        if problem is not None:
            raise ConfigurationError(f"connector 'zendesk' is not configured: {problem}")
        super().__init__(settings)
        self.zendesk_settings = settings

    @cached_property
    def client(self) -> _Client:
        return _Client(self.zendesk_settings)

    def check(self) -> None:
        """Ask Zendesk who the credentials stand for: an administrator is needed."""
        try:
            me = self.client.me()
        except TransientError as error:
            raise ConnectorError(
                f"{error}; check {_ENV}SUBDOMAIN"
                + (f" and {_ENV}BASE_URL" if self.client.base else "")
                + ", and try again later if Zendesk is busy"
            ) from None
        if me.get("id") is None:
            raise ConnectorError(
                f"Zendesk did not recognise the credentials: check {_ENV}EMAIL and "
                f"{_ENV}TOKEN, or {_ENV}OAUTH_TOKEN"
            )
        if me.get("role") != "admin":
            raise ConnectorError(
                f"{me.get('email')} is a Zendesk {me.get('role')}, and the incremental exports "
                f"are for administrators: use an administrator's {_ENV}EMAIL and {_ENV}TOKEN"
            )

    def streams(self) -> Sequence[Stream]:
        return [
            _Organizations(self.client),
            _Users(self.client),
            _Tickets(self.client),
            _SatisfactionRatings(self.client),
        ]
