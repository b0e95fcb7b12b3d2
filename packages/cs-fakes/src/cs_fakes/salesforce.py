"""A fake Salesforce REST API: SOQL queries of Account, Contact, Opportunity and Contract over TLS.

It serves what the Salesforce connector sends, in the real wire format:

* ``GET /services/data/vXX.X/query/?q=SOQL`` (live rows) and ``queryAll/`` (deleted rows too,
  with ``IsDeleted`` true), answered ``{"totalSize", "done", "nextRecordsUrl", "records"}``;
  each record carries its ``attributes`` and relationship fields (``Owner.Email``) come back
  nested. Pages hold up to 2,000 records (:attr:`FakeSalesforce.page_size`, smaller in tests);
  the next page is at the root-relative query locator ``/services/data/vXX.X/query/<id>-<n>``.
* ``GET /services/data/vXX.X/limits/``: the org's limits, for a cheap authenticated call.

Only the SOQL shape the connector uses is understood: ``SELECT fields FROM Object [WHERE
SystemModstamp >= <dateTime literal>] ORDER BY SystemModstamp, Id``. Anything else is refused
with 400 ``MALFORMED_QUERY``, an unknown field with 400 ``INVALID_FIELD``, so a connector bug
shows instead of being answered. A request without ``Authorization: Bearer <session_id>`` gets
401 ``INVALID_SESSION_ID``; faults are queued with :meth:`FakeService.fail_next` (the bodies of
the real ones are :data:`REQUEST_LIMIT_EXCEEDED` and :data:`INVALID_SESSION_ID`).

Records are derived from their index, lazily: record ``i`` of an object is computed when a page
holds it, so 100,000 accounts cost nothing until they are read. Their ``SystemModstamp`` values
tie, :attr:`FakeSalesforce.ties` records to a second, as mass updates make them tie in real
orgs. Tests add, modify and delete records (:meth:`~FakeSalesforce.add`,
:meth:`~FakeSalesforce.modify`, :meth:`~FakeSalesforce.delete`); each change moves the record's
``SystemModstamp`` to the fake's clock, one second after the previous change.
"""

from __future__ import annotations

import calendar
import heapq
import itertools
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cs_fakes.server import FakeService, Request, Response

__all__ = [
    "API_REQUEST_LIMIT",
    "EPOCH",
    "INVALID_SESSION_ID",
    "REQUEST_LIMIT_EXCEEDED",
    "FakeSalesforce",
]

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
"""The ``SystemModstamp`` of the first generated records."""
API_REQUEST_LIMIT = 15_000
"""The org's daily API allowance, as ``Sforce-Limit-Info`` and ``limits/`` report it."""
REQUEST_LIMIT_EXCEEDED = [
    {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
]
"""The body of the 403 Salesforce answers once the org's API allowance is used up."""
INVALID_SESSION_ID = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
"""The body of the 401 Salesforce answers to an expired or unknown session."""

_PATH = re.compile(
    r"^/services/data/v(?P<version>\d+\.\d)/(?P<endpoint>query|queryAll|limits)/"
    r"(?:(?P<locator>[0-9A-Za-z]+)-(?P<offset>\d+))?$"
)
_SOQL = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<sobject>\w+)"
    r"(?:\s+WHERE\s+SystemModstamp\s*>=\s*(?P<since>\S+))?"
    r"\s+ORDER\s+BY\s+SystemModstamp(?:\s+ASC)?\s*,\s*Id(?:\s+ASC)?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_SHAPE = "SELECT fields FROM Object [WHERE SystemModstamp >= dateTime] ORDER BY SystemModstamp, Id"
_CUSTOM_FIELD = (
    "If you are attempting to use a custom field, be sure to append the '__c' after the custom "
    "field name. Please reference your WSDL or the describe call for the appropriate names."
)
_FIELD = re.compile(r"^[A-Za-z]\w*(?:\.[A-Za-z]\w*)?$")
_DATETIME_LITERAL = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:Z|[+-]\d{2}:\d{2})$")
_ID_DIGITS = 12


def _salesforce_datetime(moment: datetime) -> str:
    """``moment`` as Salesforce writes a dateTime: ``2024-01-01T00:00:00.000+0000``."""
    text = moment.astimezone(UTC).replace(microsecond=0).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "+0000")  # isoformat is several times faster than strftime


def _add_months(day: date, months: int) -> date:
    """``day`` ``months`` later, on the month's last day if it is shorter (Jan 31 + 1: Feb 29)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _error(status: int, code: str, message: str) -> Response:
    return Response(status, [{"message": message, "errorCode": code}])


# Deterministic record ``i`` of each object; the account a record belongs to is ``i % accounts``.

_SEGMENTS = ("Enterprise", "Mid-Market", "SMB", "Mid-Market", "SMB")
_TITLES = ("VP Operations", "Head of Customer Success", "Engineer", "IT Admin", "CFO")
_OPPORTUNITY_TYPES = (
    "New Business",
    "Existing Customer - Upgrade",
    "Renewal",
    "Existing Customer - Downgrade",
    "Existing Customer - Replacement",
)
_STAGES = (  # (StageName, IsClosed, IsWon)
    ("Prospecting", False, False),
    ("Negotiation/Review", False, False),
    ("Closed Won", True, True),
    ("Closed Lost", True, False),
)
_CONTRACT_STATUSES = (  # (Status, StatusCode)
    ("Activated", "Activated"),
    ("Activated", "Activated"),
    ("Draft", "Draft"),
    ("In Approval Process", "InApproval"),
    ("Expired", "Expired"),
    ("Terminated", "Terminated"),
)


@dataclass
class _SObject:
    """One object's records: ``count`` generated ones and the versions changed since."""

    name: str
    prefix: str
    """The three characters every Id of this object starts with."""
    count: int
    generate: Callable[[int], dict[str, Any]]
    """Record ``i``'s fields (relationship fields flat, as ``Owner.Email``), without the
    ``Id``, ``IsDeleted`` and ``SystemModstamp`` that the fake adds."""
    fields: Mapping[str, str]
    """Every queryable field, lower-cased name to API name (SOQL names are case-insensitive)."""
    changed: dict[str, dict[str, Any]] = field(default_factory=dict)
    """By Id: records added, modified or deleted (their current version)."""
    added: int = 0

    def record_id(self, index: int) -> str:
        return f"{self.prefix}{index:0{_ID_DIGITS}d}AAA"

    def index(self, record_id: str) -> int | None:
        """The generated index of ``record_id`` (``None``: not a generated record)."""
        digits = record_id[len(self.prefix) : len(self.prefix) + _ID_DIGITS]
        if record_id.startswith(self.prefix) and digits.isdigit() and int(digits) < self.count:
            return int(digits)
        return None


_Row = int | dict[str, Any]
"""A row of a query's result: a generated record's index, or a changed record's fields."""


@dataclass(frozen=True, slots=True)
class _Cursor:
    """A query's result, fixed when it was asked (as Salesforce's query locators are)."""

    sobject: _SObject
    fields: Sequence[str]
    rows: Sequence[_Row]
    """Generated indexes, or records changed since."""


class FakeSalesforce(FakeService):
    """The Salesforce REST API of an org holding generated accounts, contacts, opportunities
    and contracts; see the module's documentation. Always served over TLS."""

    def __init__(
        self,
        *,
        accounts: int = 100,
        contacts: int = 200,
        opportunities: int = 100,
        contracts: int = 100,
        page_size: int = 2000,
        ties: int = 3,
        session_id: str = "00Dfake!session",
        page_delay: float = 0.0,
    ) -> None:
        super().__init__(tls=True)
        if not 1 <= page_size <= 2000:
            raise ValueError("page_size is from 1 to 2000 (Salesforce's largest query page)")
        if ties < 1:
            raise ValueError("ties is at least 1 (records per SystemModstamp second)")
        self.page_size = page_size
        """Records per query page."""
        self.ties = ties
        self.session_id = session_id
        """The session id requests must carry as ``Authorization: Bearer``."""
        self.page_delay = page_delay
        """Seconds to wait before answering each query page (to stop a sync mid-stream)."""
        self._objects = {
            "Account": _SObject("Account", "001", accounts, self._account, _fields(
                "Name", "Website", "Industry", "NumberOfEmployees", "OwnerId", "Owner.Email",
                "ParentId", "CS_Segment__c")),
            "Contact": _SObject("Contact", "003", contacts, self._contact, _fields(
                "AccountId", "FirstName", "LastName", "Name", "Email", "Title")),
            "Opportunity": _SObject("Opportunity", "006", opportunities, self._opportunity,
                                    _fields("AccountId", "Name", "Type", "StageName", "Amount",
                                            "CloseDate", "IsClosed", "IsWon")),
            "Contract": _SObject("Contract", "800", contracts, self._contract, _fields(
                "AccountId", "ContractNumber", "StartDate", "EndDate", "ContractTerm", "Status",
                "StatusCode", "CS_ARR__c")),
        }  # fmt: skip
        self._clock = EPOCH + timedelta(seconds=max(accounts, contacts, opportunities,
                                                    contracts) // ties + 1)  # fmt: skip
        self._cursors: dict[str, _Cursor] = {}
        self._locators = itertools.count(1)
        self._data = threading.RLock()

    # What tests use to look at and change the org.

    def record_id(self, sobject: str, index: int) -> str:
        """The Id of generated record ``index`` of ``sobject``."""
        return self._objects[sobject].record_id(index)

    def add(self, sobject: str, fields: Mapping[str, Any]) -> str:
        """Create a record with ``fields``; returns its Id."""
        with self._data:
            target = self._objects[sobject]
            record_id = target.record_id(target.count + target.added)
            target.added += 1
            target.changed[record_id] = {"Id": record_id, "IsDeleted": False, **fields,
                                         "SystemModstamp": self._tick()}  # fmt: skip
        return record_id

    def modify(self, sobject: str, record_id: str, fields: Mapping[str, Any]) -> None:
        """Change fields of a record; its ``SystemModstamp`` moves to the clock unless
        ``fields`` sets one (to make ties on purpose)."""
        with self._data:
            target = self._objects[sobject]
            current = self._current(target, record_id)
            if current is None:
                raise KeyError(f"{sobject} {record_id} does not exist")
            target.changed[record_id] = {**current, "SystemModstamp": self._tick(), **fields}

    def delete(self, sobject: str, record_id: str) -> None:
        """Move a record to the recycle bin: ``queryAll`` still returns it, as deleted."""
        self.modify(sobject, record_id, {"IsDeleted": True})

    def _tick(self) -> str:
        self._clock += timedelta(seconds=1)
        return _salesforce_datetime(self._clock)

    def _current(self, target: _SObject, record_id: str) -> dict[str, Any] | None:
        if record_id in target.changed:
            return target.changed[record_id]
        index = target.index(record_id)
        return None if index is None else self._generated(target, index)

    def _stamp(self, index: int) -> str:
        return _salesforce_datetime(EPOCH + timedelta(seconds=index // self.ties))

    def _generated(self, target: _SObject, index: int) -> dict[str, Any]:
        return {"Id": target.record_id(index), "IsDeleted": False, **target.generate(index),
                "SystemModstamp": self._stamp(index)}  # fmt: skip

    def _account_of(self, index: int) -> str | None:
        accounts = self._objects["Account"].count
        return self.record_id("Account", index % accounts) if accounts else None

    def _account(self, i: int) -> dict[str, Any]:
        owner = i % 7
        return {
            "Name": f"Company {i}",
            "Website": None if i % 10 == 9 else f"https://www.company{i}.example.com/",
            "Industry": ("Software", "Retail", "Manufacturing")[i % 3],
            "NumberOfEmployees": 10 + (i * 37) % 5000,
            "OwnerId": f"005{owner:0{_ID_DIGITS}d}AAA",
            "Owner.Email": f"owner{owner}@cs.example.com",
            "ParentId": self.record_id("Account", i - 10) if i % 20 == 10 else None,
            "CS_Segment__c": _SEGMENTS[i % len(_SEGMENTS)],
        }

    def _contact(self, i: int) -> dict[str, Any]:
        first, last = f"Pat{i}", f"Lee{i}"
        return {
            "AccountId": self._account_of(i),
            "FirstName": first,
            "LastName": last,
            "Name": f"{first} {last}",
            "Email": f"pat.lee{i}@company{i % max(self._objects['Account'].count, 1)}.example.com",
            "Title": _TITLES[i % len(_TITLES)],
        }

    def _opportunity(self, i: int) -> dict[str, Any]:
        kind = _OPPORTUNITY_TYPES[i % len(_OPPORTUNITY_TYPES)]
        stage, closed, won = _STAGES[i % len(_STAGES)]
        return {
            "AccountId": self._account_of(i),
            "Name": f"Deal {i}: {kind}",
            "Type": kind,
            "StageName": stage,
            "Amount": 1000 + (i * 1371) % 90_000 + (i % 4) * 0.25,
            "CloseDate": (date(2024, 1, 1) + timedelta(days=i % 365)).isoformat(),
            "IsClosed": closed,
            "IsWon": won,
        }

    def _contract(self, i: int) -> dict[str, Any]:
        start = date(2023, 1, 1) + timedelta(days=i % 365)
        term = (12, 24, 36)[i % 3]
        status, code = _CONTRACT_STATUSES[i % len(_CONTRACT_STATUSES)]
        return {
            "AccountId": self._account_of(i),
            "ContractNumber": f"{i:08d}",
            "StartDate": start.isoformat(),
            # Salesforce computes EndDate: the day before StartDate + ContractTerm months.
            "EndDate": (_add_months(start, term) - timedelta(days=1)).isoformat(),
            "ContractTerm": term,
            "Status": status,
            "StatusCode": code,
            "CS_ARR__c": 12_000 + (i * 997) % 100_000,
        }

    # The API.

    def handle(self, request: Request) -> Response:
        response = self._route(request)
        usage = f"api-usage={len(self.requests)}/{API_REQUEST_LIMIT}"
        return Response(response.status, response.body,
                        {**response.headers, "Sforce-Limit-Info": usage})  # fmt: skip

    def _route(self, request: Request) -> Response:
        match = _PATH.match(request.path)
        if match is None or request.method != "GET":
            return _error(404, "NOT_FOUND", "The requested resource does not exist")
        if request.headers.get("authorization") != f"Bearer {self.session_id}":
            return Response(401, INVALID_SESSION_ID)
        version = match["version"]
        if match["endpoint"] == "limits":
            used = len(self.requests)
            return Response(200, {
                "DailyApiRequests": {"Max": API_REQUEST_LIMIT,
                                     "Remaining": API_REQUEST_LIMIT - used},
                "DailyBulkV2QueryJobs": {"Max": 10_000, "Remaining": 10_000},
            })  # fmt: skip
        if match["locator"] is not None:
            return self._page(version, match["locator"], int(match["offset"]))
        soql = request.query.get("q")
        if not soql:
            return _error(400, "MALFORMED_QUERY", "A query string has to be specified")
        return self._query(version, soql, include_deleted=match["endpoint"] == "queryAll")

    def _query(self, version: str, soql: str, *, include_deleted: bool) -> Response:
        parsed = _SOQL.match(soql)
        if parsed is None:
            return _error(400, "MALFORMED_QUERY", f"the fake understands only {_SHAPE}: {soql}")
        wanted = parsed["sobject"]
        target = next(
            (known for name, known in self._objects.items() if name.lower() == wanted.lower()), None
        )
        if target is None:
            return _error(400, "INVALID_TYPE", f"sObject type '{wanted}' is not supported.")
        fields: list[str] = []
        for name in (part.strip() for part in parsed["fields"].split(",")):
            if not _FIELD.match(name):
                return _error(400, "MALFORMED_QUERY", f"unexpected token: '{name}'")
            known = target.fields.get(name.lower())
            if known is None:
                message = f"No such column '{name}' on entity '{target.name}'. {_CUSTOM_FIELD}"
                return _error(400, "INVALID_FIELD", message)
            fields.append(known)
        since: str | None = None
        if parsed["since"] is not None:
            if not _DATETIME_LITERAL.match(parsed["since"]):
                message = (
                    "value of filter criterion for field 'SystemModstamp' must be of type "
                    f"dateTime and should not be enclosed in quotes: {parsed['since']}"
                )
                return _error(400, "INVALID_FIELD", message)
            moment = datetime.fromisoformat(parsed["since"].replace("Z", "+00:00"))
            since = _salesforce_datetime(moment)
        with self._data:
            rows = self._rows(target, since, include_deleted=include_deleted)
            locator = f"01g{next(self._locators):0{_ID_DIGITS}d}AAA"
            self._cursors[locator] = _Cursor(target, fields, rows)
        return self._page(version, locator, 0)

    def _rows(
        self, target: _SObject, since: str | None, *, include_deleted: bool
    ) -> Sequence[_Row]:
        """What the query returns, in ``SystemModstamp, Id`` order: generated records the
        changes left alone (as indexes, rendered when paged), merged with the changed ones."""
        first = 0
        if since is not None:  # whole seconds: generated record i is at second i // ties
            elapsed = datetime.strptime(since, "%Y-%m-%dT%H:%M:%S.000%z") - EPOCH
            first = max(0, int(elapsed.total_seconds())) * self.ties
        generated = range(min(first, target.count), target.count)
        if not target.changed:
            return generated
        changed = sorted(
            (dict(record) for record in target.changed.values()
             if (since is None or record["SystemModstamp"] >= since)
             and (include_deleted or not record["IsDeleted"])),
            key=lambda record: (record["SystemModstamp"], record["Id"]),
        )  # fmt: skip
        changed_rows: Iterator[_Row] = iter(changed)
        untouched: Iterator[_Row] = (
            i for i in generated if target.record_id(i) not in target.changed
        )

        def order(row: _Row) -> tuple[str, str]:
            if isinstance(row, int):
                return self._stamp(row), target.record_id(row)
            return row["SystemModstamp"], row["Id"]

        return list(heapq.merge(untouched, changed_rows, key=order))

    def _page(self, version: str, locator: str, offset: int) -> Response:
        with self._data:
            cursor = self._cursors.get(locator)
        if cursor is None or offset > len(cursor.rows):
            return _error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        if self.page_delay:
            time.sleep(self.page_delay)
        end = min(offset + self.page_size, len(cursor.rows))
        records = [self._render(version, cursor, row) for row in cursor.rows[offset:end]]
        body: dict[str, Any] = {"totalSize": len(cursor.rows), "done": end == len(cursor.rows),
                                "records": records}  # fmt: skip
        if end < len(cursor.rows):
            body["nextRecordsUrl"] = f"/services/data/v{version}/query/{locator}-{end}"
        else:
            with self._data:
                self._cursors.pop(locator, None)
        return Response(200, body)

    def _render(self, version: str, cursor: _Cursor, row: _Row) -> dict[str, Any]:
        target = cursor.sobject
        record = self._generated(target, row) if isinstance(row, int) else row
        sobjects = f"/services/data/v{version}/sobjects"
        rendered: dict[str, Any] = {
            "attributes": {"type": target.name, "url": f"{sobjects}/{target.name}/{record['Id']}"}
        }
        for name in cursor.fields:
            relation, _, subfield = name.partition(".")
            if not subfield:
                rendered[name] = record.get(name)
                continue
            # Relationship fields come back nested, under the related record's attributes
            # (Owner is the one relationship the fake's objects have: a User).
            related_id = record.get(f"{relation}Id")
            if related_id is None:
                rendered[relation] = None
                continue
            nested = rendered.setdefault(relation, {"attributes": {
                "type": "User", "url": f"{sobjects}/User/{related_id}"}})  # fmt: skip
            nested[subfield] = record.get(name)
        return rendered


def _fields(*names: str) -> dict[str, str]:
    every = ("Id", "IsDeleted", "SystemModstamp", *names)
    return {name.lower(): name for name in every}
