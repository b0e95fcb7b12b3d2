"""A fake Zendesk Support: organizations, users, tickets with their metric sets, and satisfaction
ratings, in the real API's wire format, from records computed on demand.

Record ``i`` of each kind has the id ``i + 1`` and is computed from ``i`` alone, so a fake of
100,000 tickets holds in memory only the records a test changed or added. Three records of a kind
share each ``updated_at`` second (ties are real and connectors must survive them). Every user
but the first ``agents`` is an end-user of organization ``(i - agents) % organizations``;
ticket ``i`` is requested by an end-user, and tickets ``i`` with ``i % 6`` of 4 (solved) or 5
(closed) carry a satisfaction rating, good, bad or only offered.

Served (``/api/v2`` omitted), each checking the credentials as Zendesk does (an agent's e-mail
address with the API token, ``EMAIL/token:TOKEN``, or the OAuth token):

- ``/users/me.json``: the authenticated agent.
- ``/incremental/organizations.json?start_time=T``: the time-based export (the only one Zendesk
  offers for organizations): ``organizations``, ``count``, ``end_time``, ``next_page``,
  ``end_of_stream``.
- ``/incremental/users/cursor.json`` and ``/incremental/tickets/cursor.json``, ``?start_time=T``
  then ``?cursor=C``: the cursor-based exports: ``after_cursor``, ``after_url``,
  ``before_cursor``, ``before_url``, ``end_of_stream``. ``include=metric_sets`` sideloads the
  tickets' metric sets; like Zendesk's, ``after_url`` does not carry ``include`` on.
- ``/satisfaction_ratings.json?score=S&start_time=T``: the ratings created at or after ``T``,
  with cursor pagination (``page[size]``, ``page[after]``; ``meta``, ``links``).
- ``/users/show_many.json?ids=1,2``: users by id (at most 100).

Exports are ordered by ``updated_at`` then id (ratings by ``created_at`` then id). Tests change
the data with :meth:`FakeZendesk.change` and :meth:`FakeZendesk.add` (the record moves to the end
of its export, as an edit does in Zendesk), inject faults with :meth:`~FakeService.fail_next`,
make a paginator repeat itself with :meth:`FakeZendesk.stall`, and slow every page down with
:attr:`FakeZendesk.page_delay`.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import threading
import time
from bisect import bisect_right, insort
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final

from cs_fakes.server import FakeService, Request, Response

__all__ = ["EPOCH", "KINDS", "FakeZendesk"]

EPOCH: Final = datetime(2024, 1, 1, tzinfo=UTC)
"""The ``updated_at`` of the first generated records; three records share each later minute."""
KINDS: Final = ("organizations", "users", "tickets", "satisfaction_ratings")

_EPOCH_SECONDS: Final = int(EPOCH.timestamp())
_SEGMENTS: Final = ("enterprise", "Mid-Market", "smb", "plg")
_STATUSES: Final = ("new", "open", "pending", "hold", "solved", "closed")
_PRIORITIES: Final = ("normal", "high", None, "low", "urgent")
_CHANNELS: Final = ("email", "web", "native_messaging", "voice", "api", "web_widget", "twitter")
_SUBJECTS: Final = ("Cannot log in", "Invoice question", "Export fails", "Feature request",
                    "SSO setup", "Slow dashboard", "API rate limit")  # fmt: skip
_MAX_SHOW_MANY: Final = 100
_MAX_CURSOR_PAGE: Final = 100
_RATING_SCORES: Final[Mapping[str, Callable[[str], bool]]] = {
    "received": lambda score: score in ("good", "bad"),
    "good": lambda score: score == "good",
    "bad": lambda score: score == "bad",
    "offered": lambda score: score == "offered",
    "unoffered": lambda score: score == "unoffered",
}

_Key = tuple[int, int]
"""A record's place in its export: (time in Unix seconds, id)."""


@lru_cache(maxsize=4096)
def _iso(seconds: int) -> str:
    """Zendesk's time format; cached, as a page repeats the same few minutes many times."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _seconds(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp())


def _minute_of(index: int) -> int:
    """The Unix time of generated record ``index``: three records share each minute."""
    return _EPOCH_SECONDS + (index // 3) * 60


def _encode_cursor(key: _Key) -> str:
    """An opaque cursor in Zendesk's style (base64 of ``"1576613539.0||467|"``)."""
    return base64.urlsafe_b64encode(f"{key[0]}.0||{key[1]}|".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> _Key:
    text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    moment, _, identifier = text.rstrip("|").partition("||")
    return int(float(moment)), int(identifier)


class _BadRequest(Exception):
    """A request the real API would refuse with 400: the message says why."""


@dataclass
class _Kind:
    """One kind of record: ``count`` generated ones, then those changed or added by tests."""

    count: int
    render: Callable[[int], dict[str, Any]]
    """Generated record ``index`` (id ``index + 1``); defined for any index."""
    time_of: Callable[[int], int]
    """The export time (Unix seconds) of generated record ``index``, without rendering it."""
    time_field: str = "updated_at"
    edited: dict[int, dict[str, Any]] = field(default_factory=dict)
    """By id, the records changed or added, which now sort after every generated one."""
    tail: list[_Key] = field(default_factory=list)
    """The export keys of ``edited``, sorted."""

    def after(self, key: _Key) -> Iterator[dict[str, Any]]:
        """The records whose export key comes after ``key``, in export order."""
        first = bisect_right(range(self.count), key, key=lambda i: (self.time_of(i), i + 1))
        for index in range(first, self.count):
            if index + 1 not in self.edited:
                yield self.render(index)
        for _, identifier in self.tail[bisect_right(self.tail, key) :]:
            yield self.edited[identifier]

    def get(self, identifier: int) -> dict[str, Any] | None:
        if identifier in self.edited:
            return self.edited[identifier]
        return self.render(identifier - 1) if 1 <= identifier <= self.count else None

    def put(self, record: dict[str, Any]) -> None:
        identifier = record["id"]
        previous = self.edited.get(identifier)
        if previous is not None:
            self.tail.remove((_seconds(previous[self.time_field]), identifier))
        self.edited[identifier] = record
        insort(self.tail, (_seconds(record[self.time_field]), identifier))


class FakeZendesk(FakeService):
    """A Zendesk account of generated records; see the module's documentation for the API.

    ``page_size`` is the most records an incremental export page holds (Zendesk: 1,000),
    ``ratings_page_size`` the most satisfaction ratings a page holds (at most 100). The agents
    ``agent1@support.example.com`` (an admin) to ``agentN@support.example.com`` (N =
    ``agents``) authenticate with ``token``; ``oauth_token`` authenticates as the admin.
    """

    def __init__(
        self,
        *,
        organizations: int = 10,
        users: int = 40,
        tickets: int = 100,
        agents: int = 2,
        page_size: int = 1000,
        ratings_page_size: int = _MAX_CURSOR_PAGE,
        token: str = "fake-api-token",  # noqa: S107 - a fake's credential, known to its tests
        oauth_token: str = "fake-oauth-token",  # noqa: S107
        tls: bool = False,
    ) -> None:
        super().__init__(tls=tls)
        if agents < 1 or users < agents or (users > agents and organizations < 1):
            raise ValueError("a fake Zendesk needs an agent, and organizations for its end-users")
        if tickets and users == agents:
            raise ValueError("tickets need end-users to request them: give more users than agents")
        if not 1 <= ratings_page_size <= _MAX_CURSOR_PAGE or page_size < 1:
            raise ValueError(f"page sizes are from 1 (ratings: to {_MAX_CURSOR_PAGE})")
        self.agents = agents
        self.end_users = users - agents
        self.organization_count = organizations
        self.page_size = page_size
        self.ratings_page_size = ratings_page_size
        self.token = token
        self.oauth_token = oauth_token
        self.page_delay = 0.0
        """Seconds to wait before answering each export or list page (to kill a reader
        mid-stream)."""
        self.stalled: set[str] = set()
        self._data_lock = threading.RLock()
        self._kinds = {
            "organizations": _Kind(organizations, self._organization, _minute_of),
            "users": _Kind(users, self._user, _minute_of),
            "tickets": _Kind(tickets, self._ticket, _minute_of),
            "satisfaction_ratings": _Kind(
                2 * (tickets // 6) + max(tickets % 6 - 4, 0), self._rating,
                lambda index: _minute_of(self._rated_ticket(index)), "created_at",
            ),
        }  # fmt: skip
        self._clock = _minute_of(max(organizations, users, tickets)) + 3600
        """The time edits happen at: after every generated record, one second per edit."""

    # The data, as tests see and change it.

    def record(self, kind: str, identifier: int) -> dict[str, Any]:
        """The current JSON of a record (``KeyError`` if there is none)."""
        with self._data_lock:
            found = self._kind(kind).get(identifier)
        if found is None:
            raise KeyError(f"no {kind} record {identifier}")
        return found

    def records(self, kind: str) -> list[dict[str, Any]]:
        """Every current record of ``kind``, in export order."""
        with self._data_lock:
            return list(self._kind(kind).after((0, 0)))

    def change(self, kind: str, identifier: int, **fields: Any) -> dict[str, Any]:
        """Edit a record as an agent would: ``fields`` replace its values and its
        ``updated_at`` moves to now (later than anything before), so it is exported again.

        Zendesk records a changed satisfaction rating as a new one: :meth:`add` those.
        """
        if kind == "satisfaction_ratings":
            raise ValueError("a changed satisfaction rating is a new one in Zendesk: use add()")
        with self._data_lock:
            changed = self.record(kind, identifier) | fields | self._stamp(kind, created=False)
            self._kinds[kind].put(changed)
        return changed

    def add(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Create a record of ``kind`` now: a generated one with the next id, then ``fields``."""
        with self._data_lock:
            data = self._kind(kind)
            identifier = data.count + 1 + sum(1 for known in data.edited if known > data.count)
            added = data.render(identifier - 1) | self._stamp(kind, created=True) | fields
            data.put(added)
        return added

    def stall(self, kind: str) -> None:
        """From now on, a page of ``kind`` asked for with a cursor hands that same cursor back,
        as a paginator stuck in a loop does."""
        if kind == "organizations":
            raise ValueError("the organizations export is time-based: it has no cursor")
        self._kind(kind)
        self.stalled.add(kind)

    def staff_email(self, identifier: int) -> str:
        """The e-mail address of agent ``identifier`` (1 is the admin)."""
        return f"agent{identifier}@support.example.com"

    def _kind(self, kind: str) -> _Kind:
        try:
            return self._kinds[kind]
        except KeyError:
            raise KeyError(f"no kind {kind!r}: the kinds are {', '.join(KINDS)}") from None

    def _stamp(self, kind: str, *, created: bool) -> dict[str, Any]:
        """The time fields of a record edited (or ``created``) now: one second after the last
        edit, and later than every generated record."""
        self._clock += 1
        stamp: dict[str, Any] = {"updated_at": _iso(self._clock)}
        if created:
            stamp["created_at"] = stamp["updated_at"]
        if kind == "tickets":
            stamp["generated_timestamp"] = self._clock
        return stamp

    # Generated records.

    def _organization(self, index: int) -> dict[str, Any]:
        identifier, updated = index + 1, _minute_of(index)
        return {
            "url": f"{self.base_url}/api/v2/organizations/{identifier}.json",
            "id": identifier,
            "name": f"Organization {identifier}",
            "shared_tickets": False,
            "shared_comments": False,
            "external_id": None,
            "created_at": _iso(updated - 86_400 * (1 + index % 300)),
            "updated_at": _iso(updated),
            "deleted_at": None,
            "domain_names": [f"org{identifier}.example.com"],
            "details": None,
            "notes": None,
            "group_id": None,
            "tags": [],
            "organization_fields": {"segment": _SEGMENTS[index % len(_SEGMENTS)]},
        }

    def _user(self, index: int) -> dict[str, Any]:
        identifier, updated = index + 1, _minute_of(index)
        staff = index < self.agents
        organization = None if staff else (index - self.agents) % self.organization_count + 1
        return {
            "url": f"{self.base_url}/api/v2/users/{identifier}.json",
            "id": identifier,
            "name": f"{'Agent' if staff else 'User'} {identifier}",
            "email": self.staff_email(identifier)
            if staff
            else f"user{identifier}@org{organization}.example.com",
            "created_at": _iso(updated - 86_400 * (1 + index % 200)),
            "updated_at": _iso(updated),
            "time_zone": "UTC",
            "iana_time_zone": "Etc/UTC",
            "phone": None,
            "locale": "en-US",
            "organization_id": organization,
            "role": "admin" if index == 0 else "agent" if staff else "end-user",
            "verified": True,
            "external_id": None,
            "tags": [],
            "active": True,
            "suspended": False,
            "last_login_at": _iso(updated - 3600),
            "ticket_restriction": None if staff else "requested",
            "user_fields": {},
        }

    def _ticket(self, index: int) -> dict[str, Any]:
        identifier, updated = index + 1, _minute_of(index)
        requester = self.agents + index % self.end_users
        status = _STATUSES[index % len(_STATUSES)]
        subject = f"{_SUBJECTS[index % len(_SUBJECTS)]} (#{identifier})"
        return {
            "url": f"{self.base_url}/api/v2/tickets/{identifier}.json",
            "id": identifier,
            "external_id": None,
            "via": {
                "channel": _CHANNELS[index % len(_CHANNELS)],
                "source": {"from": {}, "to": {}, "rel": None},
            },
            "created_at": _iso(updated - 3600 * (1 + index % 72)),
            "updated_at": _iso(updated),
            "generated_timestamp": updated,
            "type": "question",
            "subject": subject,
            "raw_subject": subject,
            "priority": _PRIORITIES[index % len(_PRIORITIES)],
            "status": status,
            "requester_id": requester + 1,
            "submitter_id": requester + 1,
            "assignee_id": index % self.agents + 1,
            "organization_id": (requester - self.agents) % self.organization_count + 1,
            "group_id": None,
            "collaborator_ids": [],
            "follower_ids": [],
            "problem_id": None,
            "has_incidents": False,
            "is_public": True,
            "due_at": None,
            "tags": [],
            "custom_fields": [],
            "satisfaction_rating": self._ticket_rating(index),
            "brand_id": None,
        }

    def _ticket_rating(self, ticket: int) -> dict[str, Any]:
        if ticket % 6 < 4:
            return {"score": "unoffered"}
        rating = self._rating(2 * (ticket // 6) + ticket % 6 - 4)
        return {"id": rating["id"], "score": rating["score"], "comment": rating["comment"]}

    @staticmethod
    def _rated_ticket(rating: int) -> int:
        """The ticket index of rating ``rating``: the solved and closed tickets, in order."""
        return 6 * (rating // 2) + 4 + rating % 2

    def _rating(self, index: int) -> dict[str, Any]:
        ticket = self._rated_ticket(index)
        rated = _iso(_minute_of(ticket))
        round_ = ticket // 6
        if ticket % 6 == 4:
            score = ("good", "good", "bad")[round_ % 3]
        else:
            score = ("good", "offered")[round_ % 2]
        comment = {"good": "Quick and helpful" if round_ % 2 else "", "bad": "Took too long"}
        requester = self.agents + ticket % self.end_users
        return {
            "url": f"{self.base_url}/api/v2/satisfaction_ratings/{index + 1}.json",
            "id": index + 1,
            "assignee_id": ticket % self.agents + 1,
            "group_id": None,
            "requester_id": requester + 1,
            "ticket_id": ticket + 1,
            "score": score,
            "created_at": rated,
            "updated_at": rated,
            "comment": comment.get(score),
            "reason": "Some other reason" if score == "bad" else None,
            "reason_code": 100 if score == "bad" else None,
        }

    def _metric_set(self, ticket: Mapping[str, Any]) -> dict[str, Any]:
        """The metrics of a ticket as it is now: answered unless new, solved if solved."""
        identifier, status = ticket["id"], ticket["status"]
        index = identifier - 1
        answered = status != "new"
        solved = status in ("solved", "closed")
        reply = 5 + index % 50 if answered else None
        resolution = 60 * (1 + index % 72) if solved else None
        return {
            "url": f"{self.base_url}/api/v2/ticket_metrics/{identifier}.json",
            "id": identifier,
            "ticket_id": identifier,
            "created_at": ticket["created_at"],
            "updated_at": ticket["updated_at"],
            "group_stations": 1,
            "assignee_stations": 1,
            "reopens": 0,
            "replies": 1 + index % 4 if answered else 0,
            "assignee_updated_at": ticket["updated_at"] if answered else None,
            "requester_updated_at": ticket["created_at"],
            "status_updated_at": ticket["updated_at"],
            "initially_assigned_at": ticket["created_at"],
            "assigned_at": ticket["created_at"],
            "solved_at": ticket["updated_at"] if solved else None,
            "latest_comment_added_at": ticket["updated_at"],
            "reply_time_in_minutes": {"calendar": reply, "business": reply},
            "first_resolution_time_in_minutes": {"calendar": resolution, "business": resolution},
            "full_resolution_time_in_minutes": {"calendar": resolution, "business": resolution},
            "agent_wait_time_in_minutes": {"calendar": resolution, "business": resolution},
            "requester_wait_time_in_minutes": {"calendar": 0, "business": 0},
            "on_hold_time_in_minutes": {"calendar": 0, "business": 0},
        }

    # Serving.

    def handle(self, request: Request) -> Response:
        me = self._authenticated(request.headers.get("authorization", ""))
        if me is None:
            return Response(401, {"error": "Couldn't authenticate you"})
        path = request.path.removeprefix("/api/v2").removesuffix(".json")
        pages: dict[str, Callable[[Mapping[str, str]], dict[str, Any]]] = {
            "/incremental/organizations": self._organizations_page,
            "/incremental/users/cursor": lambda query: self._cursor_page("users", query),
            "/incremental/tickets/cursor": lambda query: self._cursor_page("tickets", query),
            "/satisfaction_ratings": self._ratings_page,
        }
        answers = pages | {"/users/me": lambda _: {"user": me}, "/users/show_many": self._users}
        if request.method != "GET" or path not in answers:
            return Response(404, {"error": "InvalidEndpoint", "description": "Not found"})
        if path in pages:
            time.sleep(self.page_delay)
        try:
            with self._data_lock:
                return Response(200, answers[path](request.query))
        except _BadRequest as error:
            return Response(400, {"error": "InvalidValue", "description": str(error)})

    def _authenticated(self, authorization: str) -> dict[str, Any] | None:
        """The agent the credentials stand for, or ``None``."""
        scheme, _, credentials = authorization.partition(" ")
        if scheme == "Bearer":
            return self.record("users", 1) if credentials == self.oauth_token else None
        if scheme != "Basic":
            return None
        try:
            user, _, secret = base64.b64decode(credentials).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        email, _, method = user.rpartition("/")
        if method != "token" or secret != self.token:
            return None
        for index in range(self.agents):
            agent = self.record("users", index + 1)
            if agent["email"] == email and agent["active"]:
                return agent
        return None

    def _url(self, path: str, query: str) -> str:
        return f"{self.base_url}/api/v2/{path}?{query}"

    def _organizations_page(self, query: Mapping[str, str]) -> dict[str, Any]:
        start = _start_time(query)
        records, more = _page(self._kinds["organizations"].after((start, 0)), self.page_size)
        end = _seconds(records[-1]["updated_at"]) if records else start
        return {
            "organizations": records,
            "count": len(records),
            "end_time": end,
            "next_page": self._url("incremental/organizations.json", f"start_time={end}"),
            "end_of_stream": not more,
        }

    def _cursor_page(self, kind: str, query: Mapping[str, str]) -> dict[str, Any]:
        data = self._kinds[kind]
        cursor = query.get("cursor")
        if (cursor is None) == ("start_time" not in query):
            raise _BadRequest("give start_time for the first page, or cursor for the next ones")
        after = _cursor_key(cursor) if cursor is not None else (_start_time(query), 0)
        records, more = _page(data.after(after), self.page_size)
        if kind in self.stalled and cursor is not None:
            after_cursor = cursor
        else:
            after_cursor = _encode_cursor(self._key(data, records[-1]) if records else after)
        page: dict[str, Any] = {
            kind: records,
            "after_cursor": after_cursor,
            "after_url": self._url(f"incremental/{kind}/cursor.json", f"cursor={after_cursor}"),
            "before_cursor": _encode_cursor(self._key(data, records[0])) if records else None,
            "before_url": None,
            "end_of_stream": not more,
        }
        if records and page["before_cursor"]:
            page["before_url"] = self._url(f"incremental/{kind}/cursor.json",
                                           f"cursor={page['before_cursor']}")  # fmt: skip
        if kind == "tickets" and "metric_sets" in query.get("include", "").split(","):
            page["metric_sets"] = [self._metric_set(ticket) for ticket in records]
        return page

    def _ratings_page(self, query: Mapping[str, str]) -> dict[str, Any]:
        data = self._kinds["satisfaction_ratings"]
        score = query.get("score", "")
        if score and score not in _RATING_SCORES:
            raise _BadRequest(f"this fake filters ratings by {', '.join(_RATING_SCORES)} only")
        size = min(int(query.get("page[size]", _MAX_CURSOR_PAGE)), self.ratings_page_size)
        cursor = query.get("page[after]")
        after = _cursor_key(cursor) if cursor else (_start_time(query, default=0), 0)
        chosen = data.after(after)
        if score:
            chosen = (rating for rating in chosen if _RATING_SCORES[score](rating["score"]))
        records, more = _page(chosen, size)
        stalled = "satisfaction_ratings" in self.stalled and cursor is not None
        after_cursor = cursor if stalled else (
            _encode_cursor(self._key(data, records[-1])) if records else None
        )  # fmt: skip
        filters = "&".join(f"{name}={value}" for name, value in query.items()
                           if name != "page[after]")  # fmt: skip
        return {
            "satisfaction_ratings": records,
            "meta": {
                "has_more": more,
                "after_cursor": after_cursor,
                "before_cursor": _encode_cursor(self._key(data, records[0])) if records else None,
            },
            "links": {
                "prev": None,
                "next": (self._url("satisfaction_ratings.json",
                                   f"{filters}&page[after]={after_cursor}") if more else None),
            },
        }  # fmt: skip

    def _users(self, query: Mapping[str, str]) -> dict[str, Any]:
        try:
            identifiers = [int(part) for part in query.get("ids", "").split(",") if part]
        except ValueError:
            raise _BadRequest("ids are numbers, separated by commas") from None
        if len(identifiers) > _MAX_SHOW_MANY:
            raise _BadRequest(f"at most {_MAX_SHOW_MANY} ids")
        found = [self._kinds["users"].get(identifier) for identifier in identifiers]
        users = [user for user in found if user is not None]
        return {"users": users, "next_page": None, "previous_page": None, "count": len(users)}

    @staticmethod
    def _key(data: _Kind, record: Mapping[str, Any]) -> _Key:
        return _seconds(record[data.time_field]), record["id"]


def _page(records: Iterator[dict[str, Any]], size: int) -> tuple[list[dict[str, Any]], bool]:
    """The first ``size`` records, and whether there are more."""
    page = list(itertools.islice(records, size + 1))
    return page[:size], len(page) > size


def _start_time(query: Mapping[str, str], default: int | None = None) -> int:
    raw = query.get("start_time")
    if raw is None:
        if default is None:
            raise _BadRequest("start_time is required")
        return default
    try:
        return int(raw)
    except ValueError:
        raise _BadRequest(f"start_time {raw!r} is not a Unix time") from None


def _cursor_key(cursor: str) -> _Key:
    try:
        return _decode_cursor(cursor)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise _BadRequest(f"cursor {cursor!r} is not one this API gave") from None
