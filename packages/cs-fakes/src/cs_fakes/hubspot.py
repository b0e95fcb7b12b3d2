"""A fake HubSpot CRM that speaks HubSpot's wire format: companies, contacts and deals.

Every request needs ``Authorization: Bearer <access_token>``; without it the answer is HubSpot's
401 ``INVALID_AUTHENTICATION``. Served:

* ``POST /crm/v3/objects/{object}/search``: ``filterGroups`` (groups OR-ed, the filters of a
  group AND-ed; operators EQ, NEQ, GT, GTE, LT, LTE, BETWEEN, HAS_PROPERTY, NOT_HAS_PROPERTY),
  the first of ``sorts``, ``properties``, ``limit`` (at most 200) and ``after`` (an offset),
  with the query's ``total`` in the answer. As on HubSpot, a query returns nothing past its
  ``result_cap``-th result (10,000): asking for it is a 400, and a page stops at the cap.
* ``GET /crm/v3/objects/{object}``: the list endpoint (``limit`` of at most 100, ``after``,
  ``properties`` as one comma-separated value).
* ``POST /crm/v4/associations/{contacts|deals}/companies/batch/read``: the companies of contacts
  or deals, each with its association types (the ``Primary`` label marks the primary company); an
  object without any is an error entry of a 207 answer, as HubSpot reports it.
* ``GET /crm/v3/owners/``: the portal's users that records name in ``hubspot_owner_id``.

Records are generated from counts, the same every time: record ``i`` of each object was last
modified ``i // ties`` seconds after :data:`BASE_TIME`, so ``ties`` records share each
modification time. Company ``i`` has the segment ``SEGMENTS[i % 4]`` in ``customer_segment`` and
an ARR in ``annual_recurring_revenue``; contact and deal ``j`` belong to company ``j % companies``
(every fifth contact is also associated, not as primary, with the next company). Tests add and
change records with :meth:`FakeHubSpot.create` and :meth:`FakeHubSpot.update`, and queue faults
with :meth:`~cs_fakes.server.FakeService.fail_next` or :meth:`FakeHubSpot.rate_limit_next`.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from cs_fakes.server import FakeService, Request, Response

__all__ = [
    "ACCESS_TOKEN",
    "BASE_TIME",
    "DEAL_STAGES",
    "OWNERS",
    "SEARCH_RESULT_CAP",
    "SEGMENTS",
    "FakeHubSpot",
]

ACCESS_TOKEN = "pat-na1-fake-hubspot-token"  # noqa: S105 - the fake's own, guards nothing
BASE_TIME = datetime(2025, 1, 1, tzinfo=UTC)
SEARCH_RESULT_CAP = 10_000
"""The most results HubSpot's search returns for one query, however it is paged."""
SEGMENTS = ("enterprise", "mid_market", "smb", "plg")
DEAL_STAGES = ("appointmentscheduled", "qualifiedtobuy", "contractsent", "closedwon", "closedlost")
OWNERS = (
    {"id": "41000001", "email": "ann@cs.example.com", "firstName": "Ann", "lastName": "Lee"},
    {"id": "41000002", "email": "bob@cs.example.com", "firstName": "Bob", "lastName": "Diaz"},
    {"id": "41000003", "email": "cho@cs.example.com", "firstName": "Cho", "lastName": "Park"},
)
"""The portal's owners; company ``i`` is owned by ``OWNERS[i % 3]``."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_SEARCH_LIMIT = 200
_MAX_LIST_LIMIT = 100
_MAX_OWNERS_LIMIT = 500
_OBJECT_TYPES = {
    "companies": ("companies", "company", "0-2"),
    "contacts": ("contacts", "contact", "0-1"),
    "deals": ("deals", "deal", "0-3"),
}
_SINGULAR = {"companies": "company", "contacts": "contact", "deals": "deal"}
_MODIFIED = {
    "companies": "hs_lastmodifieddate",
    "contacts": "lastmodifieddate",
    "deals": "hs_lastmodifieddate",
}
"""The property that holds each object's last modification time (contacts' has no ``hs_``)."""
_DATETIME_PROPERTIES = frozenset({"createdate", "closedate", "hs_lastmodifieddate",
                                  "lastmodifieddate"})  # fmt: skip
_DEFAULT_PROPERTIES = {
    "companies": ("name", "domain", "createdate", "hs_lastmodifieddate", "hs_object_id"),
    "contacts": ("firstname", "lastname", "email", "createdate", "lastmodifieddate",
                 "hs_object_id"),
    "deals": ("dealname", "amount", "closedate", "pipeline", "dealstage", "createdate",
              "hs_lastmodifieddate", "hs_object_id"),
}  # fmt: skip
"""What an answer carries when the request names no properties."""
_ALWAYS_RETURNED = ("hs_object_id", "createdate")
_PRIMARY_ASSOCIATION_TYPES = {("contacts", "companies"): (1, 279), ("deals", "companies"): (5, 341)}
"""HubSpot's type ids of the primary association and of the unlabelled one, per direction."""
_TITLES = ("VP Customer Success", "Head of Operations", "Engineer", None)


@dataclass
class _Object:
    id: str
    created_ms: int
    properties: dict[str, str | None]


@dataclass
class _Link:
    """An association to a company."""

    company_id: str
    primary: bool


@dataclass
class _Portal:
    """The fake's data: objects by type and id, in creation order, and their company links."""

    objects: dict[str, dict[str, _Object]] = field(
        default_factory=lambda: {name: {} for name in _OBJECT_TYPES}
    )
    links: dict[tuple[str, str], list[_Link]] = field(default_factory=dict)


def _iso(ms: int) -> str:
    """HubSpot's timestamp format: UTC, milliseconds, ``Z``."""
    moment = _EPOCH + timedelta(milliseconds=ms)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def _ms(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _parse_ms(value: str) -> int | None:
    """A datetime property or filter value as epoch milliseconds: HubSpot takes both forms."""
    text = value.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return _ms(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def _error(status: int, message: str, category: str, **extra: Any) -> Response:
    body = {"status": "error", "message": message, "correlationId": str(uuid.uuid4()),
            "category": category, **extra}  # fmt: skip
    return Response(status, body)


class _BadRequest(Exception):
    """A request HubSpot refuses with a 400 ``VALIDATION_ERROR``."""


class FakeHubSpot(FakeService):
    """HubSpot's CRM with ``companies``, ``contacts`` and ``deals`` generated from counts.

    ``result_cap`` lowers HubSpot's 10,000-results-per-search cap so that a small test reaches
    it; ``delay`` slows every answer down (seconds), for a test that stops a sync mid-stream.
    """

    def __init__(
        self,
        *,
        companies: int = 20,
        contacts: int = 40,
        deals: int = 20,
        ties: int = 3,
        result_cap: int = SEARCH_RESULT_CAP,
        access_token: str = ACCESS_TOKEN,
        delay: float = 0.0,
        tls: bool = False,
    ) -> None:
        super().__init__(tls=tls)
        if ties < 1 or result_cap < 1:
            raise ValueError("ties and result_cap must be at least 1")
        self.result_cap = result_cap
        self.access_token = access_token
        self.delay = delay
        self._portal = _Portal()
        self._data_lock = threading.RLock()
        self._next_id = {"companies": 100_000, "contacts": 200_000, "deals": 300_000}
        self._clock_ms = _ms(BASE_TIME)
        self._generate(companies, contacts, deals, ties)

    # What tests use to look at and change the data.

    def ids(self, object_type: str) -> list[str]:
        """The ids of ``object_type``'s records, in the order they were created."""
        with self._data_lock:
            return list(self._portal.objects[object_type])

    def properties(self, object_type: str, object_id: str) -> dict[str, str | None]:
        """A copy of a record's properties."""
        with self._data_lock:
            return dict(self._portal.objects[object_type][object_id].properties)

    def create(
        self,
        object_type: str,
        properties: Mapping[str, str | None],
        *,
        company: str | None = None,
        at: datetime | None = None,
    ) -> str:
        """Add a record modified ``at`` (default: a second after the latest change), with
        ``company`` as its primary company; returns its id."""
        with self._data_lock:
            moment = self._stamp(at)
            object_id = str(self._next_id[object_type])
            self._next_id[object_type] += 1
            values: dict[str, str | None] = {"hs_object_id": object_id, "createdate": _iso(moment)}
            values |= dict(properties)
            values[_MODIFIED[object_type]] = _iso(moment)
            self._portal.objects[object_type][object_id] = _Object(object_id, moment, values)
            if company is not None:
                self.associate(object_type, object_id, company)
            return object_id

    def update(
        self, object_type: str, object_id: str, properties: Mapping[str, str | None],
        *, at: datetime | None = None,
    ) -> None:  # fmt: skip
        """Change a record's properties; it was last modified ``at`` (default: a second after
        the latest change)."""
        with self._data_lock:
            record = self._portal.objects[object_type][object_id]
            record.properties |= dict(properties)
            record.properties[_MODIFIED[object_type]] = _iso(self._stamp(at))

    def associate(
        self, object_type: str, object_id: str, company_id: str, *, primary: bool = True
    ) -> None:
        """Associate a contact or deal with a company (listed before its earlier companies)."""
        with self._data_lock:
            links = self._portal.links.setdefault((object_type, object_id), [])
            if primary:
                for link in links:
                    link.primary = False
            links.insert(0, _Link(company_id, primary))

    def rate_limit_next(
        self, *, retry_after: int = 1, policy: str = "SECONDLY", path: str = ""
    ) -> None:
        """Answer the next request to ``path`` with HubSpot's 429 and its ``Retry-After``."""
        period = {"SECONDLY": "secondly", "TEN_SECONDLY_ROLLING": "ten_secondly_rolling",
                  "DAILY": "daily"}.get(policy, policy.lower())  # fmt: skip
        body = {
            "status": "error",
            "message": f"You have reached your {period} limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": str(uuid.uuid4()),
            "policyName": policy,
            "groupName": f"publicapi:private-app-api-calls-{period}:fake",
        }
        self.fail_next(429, body, path=path, headers={"Retry-After": str(retry_after)})

    # The service.

    def handle(self, request: Request) -> Response:
        if self.delay:
            time.sleep(self.delay)
        if request.headers.get("authorization") != f"Bearer {self.access_token}":
            return _error(
                401,
                "Authentication credentials not found. This API supports OAuth 2.0 "
                "authentication and you can find more details at "
                "https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                "INVALID_AUTHENTICATION",
            )
        parts = request.path.strip("/").split("/")
        try:
            with self._data_lock:
                return self._route(request, parts)
        except _BadRequest as problem:
            return _error(400, str(problem), "VALIDATION_ERROR")

    def _route(self, request: Request, parts: list[str]) -> Response:
        match request.method, parts:
            case "POST", ["crm", "v3", "objects", name, "search"]:
                return self._search(self._object_type(name), request.body or {})
            case "GET", ["crm", "v3", "objects", name]:
                return self._list(self._object_type(name), request.query)
            case "POST", ["crm", "v4", "associations", source, target, "batch", "read"]:
                return self._associations(
                    self._object_type(source), self._object_type(target), request.body or {}
                )
            case "GET", ["crm", "v3", "owners"]:
                return self._owners(request.query)
        return _error(404, f"No route for {request.method} {request.path}", "OBJECT_NOT_FOUND")

    @staticmethod
    def _object_type(name: str) -> str:
        for object_type, aliases in _OBJECT_TYPES.items():
            if name.lower() in aliases:
                return object_type
        raise _BadRequest(f"Unable to infer object type from: {name}")

    def _search(self, object_type: str, body: Mapping[str, Any]) -> Response:
        limit = _integer(body.get("limit", 10), "limit")
        if not 1 <= limit <= _MAX_SEARCH_LIMIT:
            raise _BadRequest(f"limit must be between 1 and {_MAX_SEARCH_LIMIT}; got {limit}")
        offset = _integer(body.get("after") or 0, "after")
        if offset >= self.result_cap:
            # HubSpot's own answer to paging past the results one query may return.
            raise _BadRequest("There was a problem with the request.")
        groups = body.get("filterGroups") or []
        matched = _sorted(
            [record for record in self._portal.objects[object_type].values()
             if not groups or any(_matches_all(group, record) for group in groups)],
            body.get("sorts") or [],
        )  # fmt: skip
        page = matched[offset : min(offset + limit, self.result_cap)]
        names = body.get("properties")
        answer: dict[str, Any] = {
            "total": len(matched),
            "results": [self._object(object_type, record, names) for record in page],
        }
        if offset + limit < len(matched):
            answer["paging"] = {"next": {"after": str(offset + limit)}}
        return Response(200, answer)

    def _list(self, object_type: str, query: Mapping[str, str]) -> Response:
        limit = _integer(query.get("limit", "10"), "limit")
        if not 1 <= limit <= _MAX_LIST_LIMIT:
            raise _BadRequest(f"limit must be between 1 and {_MAX_LIST_LIMIT}; got {limit}")
        offset = _integer(query.get("after") or 0, "after")
        names = query["properties"].split(",") if query.get("properties") else None
        records = list(self._portal.objects[object_type].values())
        answer: dict[str, Any] = {
            "results": [self._object(object_type, record, names)
                        for record in records[offset : offset + limit]],
        }  # fmt: skip
        if offset + limit < len(records):
            after = str(offset + limit)
            link = f"{self.base_url}/crm/v3/objects/{object_type}?after={after}"
            answer["paging"] = {"next": {"after": after, "link": link}}
        return Response(200, answer)

    def _object(self, object_type: str, record: _Object, names: Any) -> dict[str, Any]:
        modified = _MODIFIED[object_type]
        wanted = (
            [*names, *_ALWAYS_RETURNED, modified] if names else _DEFAULT_PROPERTIES[object_type]
        )
        updated = _parse_ms(record.properties.get(modified) or "")
        return {
            "id": record.id,
            "properties": {name: record.properties.get(name) for name in wanted},
            "createdAt": _iso(record.created_ms),
            "updatedAt": _iso(record.created_ms if updated is None else updated),
            "archived": False,
        }

    def _associations(self, source: str, target: str, body: Mapping[str, Any]) -> Response:
        started = _iso(_ms(datetime.now(UTC)))
        primary_type, unlabelled_type = _PRIMARY_ASSOCIATION_TYPES.get((source, target), (0, 0))
        results: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for entry in body.get("inputs") or []:
            object_id = str(entry.get("id"))
            links = self._portal.links.get((source, object_id), []) if target == "companies" else []
            if not links:
                errors.append(_no_associations(source, target, object_id))
                continue
            results.append({
                "from": {"id": object_id},
                "to": [
                    {"toObjectId": int(link.company_id), "associationTypes": [
                        *([{"category": "HUBSPOT_DEFINED", "typeId": primary_type,
                            "label": "Primary"}] if link.primary else []),
                        {"category": "HUBSPOT_DEFINED", "typeId": unlabelled_type, "label": None},
                    ]}
                    for link in links
                ],
            })  # fmt: skip
        answer: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": started,
                                  "completedAt": _iso(_ms(datetime.now(UTC)))}  # fmt: skip
        if errors:
            answer |= {"numErrors": len(errors), "errors": errors}
        return Response(207 if errors else 200, answer)

    def _owners(self, query: Mapping[str, str]) -> Response:
        limit = _integer(query.get("limit", "100"), "limit")
        if not 1 <= limit <= _MAX_OWNERS_LIMIT:
            raise _BadRequest(f"limit must be between 1 and {_MAX_OWNERS_LIMIT}; got {limit}")
        offset = _integer(query.get("after") or 0, "after")
        created = _iso(_ms(BASE_TIME))
        owners = [
            owner | {"type": "PERSON", "userId": 9_000 + index, "createdAt": created,
                     "updatedAt": created, "archived": False, "teams": []}
            for index, owner in enumerate(OWNERS)
        ]  # fmt: skip
        answer: dict[str, Any] = {"results": owners[offset : offset + limit]}
        if offset + limit < len(owners):
            answer["paging"] = {"next": {"after": str(offset + limit)}}
        return Response(200, answer)

    # The generated data.

    def _stamp(self, at: datetime | None) -> int:
        """The modification time of a change: ``at``, or a second after the latest one."""
        if at is not None:
            moment = _ms(at)
        else:
            self._clock_ms += 1000
            moment = self._clock_ms
        self._clock_ms = max(self._clock_ms, moment)
        return moment

    def _generate(self, companies: int, contacts: int, deals: int, ties: int) -> None:
        start = _ms(BASE_TIME)
        company_ids = []
        for index in range(companies):
            company_ids.append(self.create("companies", {
                "name": f"Company {index}",
                "domain": f"company{index}.example.com",
                "customer_segment": SEGMENTS[index % len(SEGMENTS)],
                "hubspot_owner_id": OWNERS[index % len(OWNERS)]["id"],
                "annual_recurring_revenue": str(12_000 * (index % 5 + 1)),
            }, at=_moment(start, index, ties)))  # fmt: skip
        for index in range(contacts):
            company = company_ids[index % companies] if companies else None
            contact = self.create("contacts", {
                "email": f"contact{index}@company{index % max(companies, 1)}.example.com",
                "firstname": "Contact",
                "lastname": str(index),
                "jobtitle": _TITLES[index % len(_TITLES)],
            }, company=company, at=_moment(start, index, ties))  # fmt: skip
            if companies > 1 and index % 5 == 0:
                other = company_ids[(index + 1) % companies]
                self.associate("contacts", contact, other, primary=False)
        for index in range(deals):
            stage = DEAL_STAGES[index % len(DEAL_STAGES)]
            self.create("deals", {
                "dealname": f"Deal {index}",
                "amount": str(1_000 * (index % 9 + 1)),
                "closedate": _iso(_ms(BASE_TIME + timedelta(days=30 + index))),
                "dealstage": stage,
                "pipeline": "default",
                "dealtype": ("newbusiness", "existingbusiness")[index % 2],
                "deal_currency_code": "USD",
                "hs_is_closed": str(stage in ("closedwon", "closedlost")).lower(),
                "hs_is_closed_won": str(stage == "closedwon").lower(),
            }, company=company_ids[index % companies] if companies else None,
               at=_moment(start, index, ties))  # fmt: skip


def _moment(start_ms: int, index: int, ties: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=start_ms + (index // ties) * 1000)


def _integer(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _BadRequest(f"{name} must be an integer; got {value!r}") from None


def _comparable(name: str, value: str) -> tuple[int, Any]:
    """A property value as it compares: datetimes as instants, numbers as numbers, else text
    (case-insensitive, as HubSpot's search compares strings)."""
    if name in _DATETIME_PROPERTIES and (instant := _parse_ms(value)) is not None:
        return (0, instant)
    try:
        return (0, Decimal(value))
    except InvalidOperation:
        return (1, value.lower())


def _matches(condition: Mapping[str, Any], record: _Object) -> bool:
    name = str(condition.get("propertyName"))
    operator = condition.get("operator")
    value = record.properties.get(name)
    if operator == "HAS_PROPERTY":
        return bool(value)
    if operator == "NOT_HAS_PROPERTY":
        return not value
    if operator not in ("EQ", "NEQ", "GT", "GTE", "LT", "LTE", "BETWEEN"):
        raise _BadRequest(f"the operator {operator!r} is not supported by this fake")
    if "value" not in condition:
        raise _BadRequest(f"the {operator} filter on {name} has no value")
    if not value:
        return bool(operator == "NEQ")
    mine, theirs = _comparable(name, value), _comparable(name, str(condition["value"]))
    if operator == "BETWEEN":
        if "highValue" not in condition:
            raise _BadRequest(f"the BETWEEN filter on {name} has no highValue")
        return bool(theirs <= mine <= _comparable(name, str(condition["highValue"])))
    outcomes = {"EQ": mine == theirs, "NEQ": mine != theirs, "GT": mine > theirs,
                "GTE": mine >= theirs, "LT": mine < theirs, "LTE": mine <= theirs}  # fmt: skip
    return outcomes[operator]


def _matches_all(group: Mapping[str, Any], record: _Object) -> bool:
    return all(_matches(condition, record) for condition in group.get("filters") or [])


def _sorted(records: list[_Object], sorts: list[Any]) -> list[_Object]:
    """Ordered by the first sort (``{"propertyName", "direction"}``, or a property name for
    ascending), records with equal values by id; records without the property come last."""
    by_id = sorted(records, key=lambda record: int(record.id))
    if not sorts:
        return by_id
    first = sorts[0]
    name = first if isinstance(first, str) else str(first.get("propertyName"))
    descending = not isinstance(first, str) and first.get("direction") == "DESCENDING"
    present = [record for record in by_id if record.properties.get(name)]
    # A stable sort, in either direction: ties stay in id order.
    present.sort(key=lambda record: _comparable(name, record.properties[name] or ""),
                 reverse=descending)  # fmt: skip
    return present + [record for record in by_id if not record.properties.get(name)]


def _no_associations(source: str, target: str, object_id: str) -> dict[str, Any]:
    return {
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
        "message": f"No {_SINGULAR[target]} is associated with {_SINGULAR[source]} {object_id}.",
        "context": {
            "fromObjectId": [object_id],
            "fromObjectType": [_SINGULAR[source]],
            "toObjectType": [_SINGULAR[target]],
        },
        "links": {},
        "errors": [],
    }
