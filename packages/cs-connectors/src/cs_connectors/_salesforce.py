"""The Salesforce connector: accounts, contacts, opportunities and contracts through the REST API.

It reads with `simple-salesforce`_. Sign in with exactly one of:

* a session: ``CS_SALESFORCE_INSTANCE_URL`` and ``CS_SALESFORCE_SESSION_ID`` (an access token
  from an OAuth flow or the Salesforce CLI; it expires, and the connector cannot renew it);
* a password login: ``CS_SALESFORCE_USERNAME``, ``CS_SALESFORCE_PASSWORD`` and
  ``CS_SALESFORCE_SECURITY_TOKEN``;
* a JWT bearer login of a connected app: ``CS_SALESFORCE_USERNAME``,
  ``CS_SALESFORCE_CONSUMER_KEY`` and ``CS_SALESFORCE_PRIVATE_KEY`` (the PEM text of the key
  whose certificate the app holds).

Both logins go to ``https://<CS_SALESFORCE_DOMAIN>.salesforce.com`` (``login``; ``test`` for a
sandbox; or a My Domain such as ``acme.my``), and the library signs in again by itself when the
session expires. ``CS_SALESFORCE_CA_BUNDLE`` names a PEM bundle to verify TLS with (a private CA,
or a TLS-inspecting proxy); ``CS_SALESFORCE_API_VERSION`` the REST API version (default 59.0);
``CS_SALESFORCE_TIMEOUT`` the seconds to wait for an answer (default 120).

Each stream is one SOQL query through ``queryAll`` (deleted rows included, so deletions reach the
store) ordered by ``SystemModstamp, Id``, from ``SystemModstamp >= cursor``: records sharing the
cursor's timestamp that were already read are skipped (:class:`~cs_core.CursorTracker`), and a
checkpoint follows every page, which the order makes safe. Mapping:

* ``Account`` → account: ``Name``, ``Website`` (its host is the domain), ``Owner.Email`` (the
  owner), ``ParentId``, and the segment from the custom field ``CS_SALESFORCE_SEGMENT_FIELD``
  (default ``CS_Segment__c``, a picklist of Enterprise, Mid-Market, SMB, PLG: standard Accounts
  have no segment), or ``CS_SALESFORCE_DEFAULT_SEGMENT`` where that field is empty;
* ``Contact`` → contact of the account ``AccountId``: ``Email``, ``Name``, ``Title``;
* ``Opportunity`` → opportunity: ``Type`` (New Business or New Customer: new; Existing
  Customer - Upgrade: expansion; Renewal and the other Existing Customer types: renewal),
  ``StageName``, ``Amount``, ``CloseDate``, and ``IsClosed`` / ``IsWon`` as the outcome;
* ``Contract`` → contract: ``StartDate``, ``EndDate`` (or, while Salesforce has not computed it,
  the day before ``StartDate`` + ``ContractTerm`` months, as Salesforce does), the status from
  ``StatusCode`` (the category every custom ``Status`` label belongs to), and ARR from the custom
  field ``CS_SALESFORCE_ARR_FIELD`` (default ``CS_ARR__c``: standard Contracts carry no amount).

A record that does not fit (no segment, no e-mail, an unknown opportunity type) is quarantined
with its payload by the sync engine; the rest of the sync goes on.

.. _simple-salesforce: https://github.com/simple-salesforce/simple-salesforce
"""

from __future__ import annotations

import calendar
import re
from abc import abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests
from pydantic import Field, FilePath, SecretStr, field_validator
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceError

from cs_core import (
    AccountRecord,
    Candidate,
    Checkpoint,
    ConfigurationError,
    Connector,
    ConnectorError,
    ConnectorSettings,
    ContactRecord,
    ContractRecord,
    ContractStatus,
    CursorTracker,
    Deletion,
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

__all__ = ["SalesforceConnector", "SalesforceSettings"]

SOURCE = "salesforce"
_ENV = "CS_SALESFORCE_"
_API_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})


def _env(*names: str) -> str:
    return ", ".join(f"{_ENV}{name.upper()}" for name in names)


@dataclass(frozen=True, slots=True)
class _SessionSignIn:
    described: ClassVar[str] = "a session"
    variables: ClassVar[tuple[str, ...]] = ("instance_url", "session_id")
    marks: ClassVar[tuple[str, ...]] = variables
    """The variables that say this sign-in is meant (the username serves both logins)."""
    instance_url: str
    session_id: str


@dataclass(frozen=True, slots=True)
class _PasswordSignIn:
    described: ClassVar[str] = "a password login"
    variables: ClassVar[tuple[str, ...]] = ("username", "password", "security_token")
    marks: ClassVar[tuple[str, ...]] = ("password", "security_token")
    username: str
    password: str
    security_token: str
    domain: str


@dataclass(frozen=True, slots=True)
class _JwtSignIn:
    described: ClassVar[str] = "a JWT bearer login"
    variables: ClassVar[tuple[str, ...]] = ("username", "consumer_key", "private_key")
    marks: ClassVar[tuple[str, ...]] = ("consumer_key", "private_key")
    username: str
    consumer_key: str
    private_key: str
    domain: str


_SignIn = _SessionSignIn | _PasswordSignIn | _JwtSignIn
_SIGN_INS: tuple[type[_SignIn], ...] = (_SessionSignIn, _PasswordSignIn, _JwtSignIn)


class SalesforceSettings(ConnectorSettings):
    """``CS_SALESFORCE_*``: one sign-in (see :mod:`cs_connectors._salesforce`), the API version,
    a CA bundle, a request timeout, and the fields that hold what standard objects lack."""

    instance_url: str | None = None
    session_id: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    security_token: SecretStr | None = None
    consumer_key: SecretStr | None = None
    private_key: SecretStr | None = None
    """The PEM text of the connected app's private key."""
    domain: str = "login"
    """Where the logins go: ``https://<domain>.salesforce.com``."""
    api_version: str = "59.0"
    ca_bundle: FilePath | None = None
    timeout: float = Field(default=120.0, gt=0)
    """Seconds to wait for each answer of the REST API."""
    segment_field: str = "CS_Segment__c"
    default_segment: Segment | None = None
    arr_field: str = "CS_ARR__c"

    @field_validator("instance_url")
    @classmethod
    def _https_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError(
                f"{value!r} is not an https:// URL; give the org's, such as "
                "https://acme.my.salesforce.com"
            )
        return value

    @field_validator("api_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not re.fullmatch(r"\d{2,3}\.0", value):
            raise ValueError(f"{value!r} is not an API version; give one as 59.0, without a v")
        return value

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*", value):
            raise ValueError(
                f"{value!r} is not a login domain; give login, test (a sandbox) or a My Domain "
                "such as acme.my: the part of the host before .salesforce.com"
            )
        return value

    @field_validator("segment_field", "arr_field")
    @classmethod
    def _api_name(cls, value: str) -> str:
        if not _API_NAME.match(value):
            raise ValueError(f"{value!r} is not a field's API name, such as CS_Segment__c")
        return value

    def sign_in(self) -> _SignIn:
        """The one sign-in configured; :class:`ConfigurationError` names what is missing."""
        given = {
            name
            for kind in _SIGN_INS
            for name in kind.variables
            if _text(getattr(self, name)) is not None
        }
        meant = [kind for kind in _SIGN_INS if given & set(kind.marks)]
        if not meant:
            options = "; or ".join(f"{_env(*kind.variables)} ({kind.described})"
                                   for kind in _SIGN_INS)  # fmt: skip
            raise ConfigurationError(f"connector 'salesforce' has no sign-in: set {options}")
        if len(meant) > 1:
            found = " and ".join(f"{kind.described} ({_env(*sorted(given & set(kind.marks)))})"
                                 for kind in meant)  # fmt: skip
            raise ConfigurationError(
                f"connector 'salesforce' is given more than one sign-in, {found}: "
                "configure exactly one and unset the others"
            )
        (kind,) = meant
        if missing := [name for name in kind.variables if name not in given]:
            raise ConfigurationError(f"connector 'salesforce' signs in with {kind.described}, "
                                     f"which also needs {_env(*missing)}")  # fmt: skip
        if unused := sorted(given - set(kind.variables)):
            raise ConfigurationError(
                f"connector 'salesforce' signs in with {kind.described}: {_env(*unused)} belongs "
                "to a login and is not used; unset it"
            )
        value = {name: str(_text(getattr(self, name))) for name in kind.variables}
        if kind is _SessionSignIn:
            return _SessionSignIn(**value)
        if kind is _PasswordSignIn:
            return _PasswordSignIn(**value, domain=self.domain)
        return _JwtSignIn(**value, domain=self.domain)


def _text(value: object) -> str | None:
    """A setting's text; an empty one counts as not set."""
    text = value.get_secret_value() if isinstance(value, SecretStr) else value
    return text if isinstance(text, str) and text.strip() else None


class _VerifyingSession(requests.Session):
    """A requests session that keeps its own CA bundle. Plain requests lets the environment's
    ``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE`` replace a session's ``verify``
    (psf/requests#4726), which would silently drop ``CS_SALESFORCE_CA_BUNDLE``."""

    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> dict[str, Any]:
        chosen = self.verify if verify is None else verify
        return super().merge_environment_settings(url, proxies, stream, chosen, cert)


def _retry_after(header: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: a number of seconds or an HTTP date."""
    if not header:
        return None
    try:
        return max(0.0, float(header))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def _problems(content: object) -> list[tuple[str, str]]:
    """``(errorCode, message)`` of a REST API error body: a JSON list of them, usually."""
    entries = content if isinstance(content, list) else [content]
    problems = [
        (str(entry.get("errorCode", "")), str(entry.get("message", "")).strip())
        for entry in entries
        if isinstance(entry, Mapping)
    ]
    return problems or [("", str(content)[:500])]


class SalesforceConnector(Connector):
    """Accounts, contacts, opportunities and contracts from a Salesforce org."""

    name: ClassVar[str] = "salesforce"
    settings_model: ClassVar[type[ConnectorSettings]] = SalesforceSettings

    def __init__(self, settings: ConnectorSettings) -> None:
        super().__init__(settings)
        self.salesforce_settings = self.settings_as(SalesforceSettings)
        self._sign_in = self.salesforce_settings.sign_in()
        self._client: Salesforce | None = None
        self._retry_after: float | None = None

    def http_session(self) -> requests.Session:
        """The requests session every call goes through, verifying TLS with
        ``CS_SALESFORCE_CA_BUNDLE`` when it is set; it also notes each answer's
        ``Retry-After``, which the library's errors do not carry."""
        session = _VerifyingSession()
        if self.salesforce_settings.ca_bundle is not None:
            session.verify = str(self.salesforce_settings.ca_bundle)

        def note_retry_after(response: requests.Response, **_: Any) -> None:
            self._retry_after = _retry_after(response.headers.get("Retry-After"))

        session.hooks["response"].append(note_retry_after)
        return session

    def client(self) -> Salesforce:
        """The signed-in library client (a login happens on the first call)."""
        if self._client is None:
            settings = self.salesforce_settings
            common: dict[str, Any] = {
                "version": settings.api_version,
                "session": self.http_session(),
                # Amounts as exact decimals (a float's 0.1 is not money), and plain dicts.
                "parse_float": Decimal,
                "object_pairs_hook": dict,
            }
            with self._calling("signing in to Salesforce"):
                match self._sign_in:
                    case _SessionSignIn(instance_url, session_id):
                        client = Salesforce(
                            session_id=session_id, instance_url=instance_url, **common
                        )
                    case _PasswordSignIn(username, password, security_token, domain):
                        client = Salesforce(username=username, password=password,
                                            security_token=security_token, domain=domain,
                                            **common)  # fmt: skip
                    case _JwtSignIn(username, consumer_key, private_key, domain):
                        client = Salesforce(username=username, consumer_key=consumer_key,
                                            privatekey=private_key, domain=domain,
                                            **common)  # fmt: skip
            self._client = client
        return self._client

    def check(self) -> None:
        """Sign in and read the org's limits: the cheapest call that needs a valid session."""
        with self._calling("checking the connection to Salesforce"):
            self.client().limits(timeout=self.salesforce_settings.timeout)

    def streams(self) -> Sequence[Stream]:
        return [_Accounts(self), _Contacts(self), _Opportunities(self), _Contracts(self)]

    @contextmanager
    def _calling(self, what: str) -> Iterator[None]:
        """Turn the library's and the network's failures while doing ``what`` into
        :class:`TransientError` (worth retrying) or :class:`ConnectorError` (what to fix)."""
        try:
            yield
        except SalesforceAuthenticationFailed as error:
            variables = _env(*self._sign_in.variables, "domain")
            raise ConnectorError(f"{what}: Salesforce refused the login ({error}); check "
                                 f"{variables}") from error  # fmt: skip
        except SalesforceError as error:
            raise self._failure(what, error) from error
        except requests.exceptions.SSLError as error:
            raise ConnectorError(
                f"{what}: the TLS certificate of {self._host()} cannot be verified ({error}); "
                f"if a private CA or a TLS-inspecting proxy issued it, set {_env('ca_bundle')} "
                "to that CA's PEM bundle"
            ) from error
        except (
            requests.exceptions.ConnectionError,
            requests.exceptions.Timeout,
            requests.exceptions.ChunkedEncodingError,
        ) as error:
            raise TransientError(
                f"{what}: Salesforce at {self._host()} did not answer: {error}"
            ) from error

    def _host(self) -> str:
        if self._client is not None:
            return self._client.sf_instance
        match self._sign_in:
            case _SessionSignIn(instance_url, _):
                return instance_url
            case _:
                return f"{self._sign_in.domain}.salesforce.com"

    def _failure(self, what: str, error: SalesforceError) -> ConnectorError:
        """The error to raise for an answer of status ``error.status`` (>= 300)."""
        problems = _problems(error.content)
        codes = {code for code, _ in problems}
        said = "; ".join(f"{code}: {message}" if code else message for code, message in problems)
        answered = f"{what}: Salesforce answered {error.status} ({said})"
        if "REQUEST_LIMIT_EXCEEDED" in codes:
            return TransientError(
                f"{answered}: the org has used up its API requests, which Salesforce counts over "
                "24 hours; the sync resumes from its checkpoint once there is room again",
                retry_after=self._retry_after,
            )
        if error.status in _TRANSIENT_STATUSES:
            return TransientError(answered, retry_after=self._retry_after)
        return ConnectorError(f"{answered}: {self._advice(error.status, codes)}")

    def _advice(self, status: int, codes: set[str]) -> str:
        """What to do about a refusal."""
        if status == 401 and isinstance(self._sign_in, _SessionSignIn):
            advice = (f"the session expired or is wrong; set a fresh {_env('session_id')}, or "
                      "sign in with a login, which the library renews by itself")  # fmt: skip
        elif status == 401:
            advice = "the login succeeded but its session was refused: check the user's access"
        elif status == 403:
            advice = ("give the signed-in user the API Enabled permission and read access to "
                      "Accounts, Contacts, Opportunities and Contracts")  # fmt: skip
        elif status == 404:
            advice = (f"check that {_env('api_version')} "
                      f"({self.salesforce_settings.api_version}) is a version the org "
                      "supports")  # fmt: skip
        elif "INVALID_FIELD" in codes:
            advice = (f"{_env('segment_field')} and {_env('arr_field')} must name fields that "
                      "exist and that the signed-in user can read")  # fmt: skip
        else:
            advice = "the connector sent a request Salesforce does not accept; please report it"
        return advice


def _soql_datetime(cursor: str) -> str:
    """A ``SystemModstamp`` as Salesforce returns it (``2024-05-01T10:00:00.000+0000``), as a
    SOQL dateTime literal. Fractions of a second are dropped: with ``>=`` that reads a few
    records again, which the cursor's tracker skips, and never loses one."""
    try:
        moment = datetime.strptime(cursor, "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        raise ConnectorError(
            f"the stored cursor {cursor!r} is not a Salesforce dateTime: sync this stream with "
            "a full refresh"
        ) from None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _value(record: Mapping[str, Any], field: str) -> Any:
    """A field of a record; field names are case-insensitive in Salesforce, so a configured
    ``cs_segment__c`` finds ``CS_Segment__c``."""
    if field in record:
        return record[field]
    wanted = field.lower()
    return next((value for key, value in record.items() if key.lower() == wanted), None)


def _present(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The record fields that have a value (a missing one takes the field's default), tagged
    with the source."""
    return {"source": SOURCE} | {
        name: value
        for name, value in fields.items()
        if value is not None and not (isinstance(value, str) and not value.strip())
    }


def _website_domain(website: object) -> str | None:
    """The host of an Account's ``Website`` (``https://www.acme.com/about`` → ``acme.com``);
    nothing for what is not a host name (``n/a``), so a stray value loses the domain, not the
    account."""
    if not isinstance(website, str) or not website.strip():
        return None
    text = website.strip()
    host = urlsplit(text if "://" in text else f"https://{text}").hostname
    if host is None or "." not in host:
        return None
    return host.removeprefix("www.")


def _add_months(day: date, months: int) -> date:
    """``day`` ``months`` later, on the month's last day if it is shorter."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _contract_end(start: object, term: object) -> str | None:
    """The end Salesforce computes for a contract: the day before ``start`` + ``term`` months."""
    if not isinstance(start, str) or not isinstance(term, int) or term < 1:
        return None
    try:
        first = date.fromisoformat(start)
    except ValueError:
        return None
    return (_add_months(first, term) - timedelta(days=1)).isoformat()


_OPPORTUNITY_TYPES = {
    "new business": OpportunityType.NEW,
    "new customer": OpportunityType.NEW,
    "existing customer - upgrade": OpportunityType.EXPANSION,
    # A downgrade or a replacement keeps the customer on a new contract: a renewal, at a
    # different amount.
    "existing customer - downgrade": OpportunityType.RENEWAL,
    "existing customer - replacement": OpportunityType.RENEWAL,
    "renewal": OpportunityType.RENEWAL,
}


def _opportunity_type(kind: object) -> object:
    """The opportunity type of a ``Type`` picklist value. Values the table does not know go as
    they are: ``Expansion`` still reads as one, anything else is quarantined with the reason."""
    return _OPPORTUNITY_TYPES.get(kind.strip().lower(), kind) if isinstance(kind, str) else kind


_CONTRACT_STATUSES: dict[object, ContractStatus] = {
    "Draft": ContractStatus.DRAFT,
    "InApproval": ContractStatus.DRAFT,
    "Activated": ContractStatus.ACTIVE,
    "Expired": ContractStatus.EXPIRED,
    "Terminated": ContractStatus.CANCELLED,
}


class _SObjectStream(Stream):
    """One object, read through ``queryAll`` by ``SystemModstamp``."""

    sobject: ClassVar[str]
    model: ClassVar[type[Record]]

    def __init__(self, connector: SalesforceConnector) -> None:
        self.connector = connector
        self.settings = connector.salesforce_settings

    @abstractmethod
    def selected(self) -> tuple[str, ...]:
        """The fields to read besides ``Id``, ``IsDeleted`` and ``SystemModstamp``."""

    @abstractmethod
    def fields(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """The record fields of a Salesforce record (validated by the engine)."""

    def soql(self, cursor: str | None) -> str:
        columns = ", ".join(("Id", "IsDeleted", "SystemModstamp", *self.selected()))
        since = "" if cursor is None else f" WHERE SystemModstamp >= {_soql_datetime(cursor)}"
        # Every name is a validated API name and the literal a formatted datetime: no injection.
        return f"SELECT {columns} FROM {self.sobject}{since} ORDER BY SystemModstamp, Id"  # noqa: S608

    def read(self, state: Mapping[str, Any] | None) -> Iterator[StreamItem]:
        tracker = CursorTracker.from_state(state)
        guard = PageGuard(f"salesforce {self.name}")
        timeout = self.settings.timeout
        what = f"reading {self.sobject} records"
        with self.connector._calling(what):
            client = self.connector.client()
            page = client.query(self.soql(tracker.value), include_deleted=True, timeout=timeout)
        while True:
            for record in page["records"]:
                if not tracker.is_new(record["SystemModstamp"], record["Id"]):
                    continue
                if record.get("IsDeleted"):
                    yield Deletion(model=self.model, source=SOURCE, external_id=record["Id"])
                else:
                    yield Candidate(self.model, self.fields(record), record)
            # Records come sorted by (SystemModstamp, Id): everything up to the tracker's
            # cursor has been yielded, so resuming from it loses nothing.
            yield Checkpoint(tracker.state)
            if page["done"]:
                return
            next_page = guard.next(page["nextRecordsUrl"])
            with self.connector._calling(what):
                page = client.query_more(next_page, identifier_is_url=True, timeout=timeout)


class _Accounts(_SObjectStream):
    name: ClassVar[str] = "accounts"
    sobject: ClassVar[str] = "Account"
    model = AccountRecord

    def selected(self) -> tuple[str, ...]:
        return ("Name", "Website", "Owner.Email", "ParentId", self.settings.segment_field)

    def fields(self, record: Mapping[str, Any]) -> dict[str, Any]:
        owner = record.get("Owner") or {}
        segment = _value(record, self.settings.segment_field)
        return _present({
            "external_id": record["Id"],
            "name": record.get("Name"),
            "domain": _website_domain(record.get("Website")),
            "owner": owner.get("Email"),
            "segment": segment or self.settings.default_segment,
            "parent_external_id": record.get("ParentId"),
        })  # fmt: skip


class _Contacts(_SObjectStream):
    name: ClassVar[str] = "contacts"
    sobject: ClassVar[str] = "Contact"
    model = ContactRecord

    def selected(self) -> tuple[str, ...]:
        return ("AccountId", "Name", "Email", "Title")

    def fields(self, record: Mapping[str, Any]) -> dict[str, Any]:
        return _present({
            "external_id": record["Id"],
            "account_external_id": record.get("AccountId"),
            "email": record.get("Email"),
            "name": record.get("Name"),
            "title": record.get("Title"),
        })  # fmt: skip


class _Opportunities(_SObjectStream):
    name: ClassVar[str] = "opportunities"
    sobject: ClassVar[str] = "Opportunity"
    model = OpportunityRecord

    def selected(self) -> tuple[str, ...]:
        return ("AccountId", "Name", "Type", "StageName", "Amount", "CloseDate", "IsClosed",
                "IsWon")  # fmt: skip

    def fields(self, record: Mapping[str, Any]) -> dict[str, Any]:
        if record.get("IsClosed"):
            outcome = OpportunityOutcome.WON if record.get("IsWon") else OpportunityOutcome.LOST
        else:
            outcome = OpportunityOutcome.OPEN
        return _present({
            "external_id": record["Id"],
            "account_external_id": record.get("AccountId"),
            "name": record.get("Name"),
            "type": _opportunity_type(record.get("Type")),
            "amount": record.get("Amount"),
            "stage": record.get("StageName"),
            "close_date": record.get("CloseDate"),
            "outcome": outcome,
        })  # fmt: skip


class _Contracts(_SObjectStream):
    name: ClassVar[str] = "contracts"
    sobject: ClassVar[str] = "Contract"
    model = ContractRecord

    def selected(self) -> tuple[str, ...]:
        return ("AccountId", "StartDate", "EndDate", "ContractTerm", "StatusCode",
                self.settings.arr_field)  # fmt: skip

    def fields(self, record: Mapping[str, Any]) -> dict[str, Any]:
        end = record.get("EndDate") or _contract_end(record.get("StartDate"),
                                                     record.get("ContractTerm"))  # fmt: skip
        return _present({
            "external_id": record["Id"],
            "account_external_id": record.get("AccountId"),
            "start_date": record.get("StartDate"),
            "end_date": end,
            "arr": _value(record, self.settings.arr_field),
            "status": _CONTRACT_STATUSES.get(record.get("StatusCode"), record.get("StatusCode")),
        })  # fmt: skip
