"""A fake Intercom in the test process, a store to sync into, and a configured connector.

The fake is this plugin's own (a plugin cannot lean on its host's test helpers): an http.server
on a free local port that answers the endpoints the connector calls, in the shapes of Intercom's
API 2.x, including its quirks: contact searches compare timestamps by UTC day, search pages are
keyset cursors (``starting_after``), the company scroll keeps one ``scroll_param``. A test fills
its workspace, schedules failures (``fail``), and reads the requests it received.
"""

from __future__ import annotations

import base64
import json
import shutil
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from cs_core import Store
from cs_intercom import IntercomConnector

TOKEN = "dG9rOmZha2UtaW50ZXJjb20="
"""The access token the fake accepts."""
DAY = 86_400
MAX_PAGE_SIZE = 150


@dataclass(frozen=True)
class Request:
    """A request the fake received: its route (``POST /contacts/search``), query, body and
    headers (names in lower case)."""

    route: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]


@dataclass(frozen=True)
class Failure:
    """An error answer a test scheduled."""

    status: int
    code: str
    headers: Mapping[str, str]


class Refused(Exception):
    """An error answer, in Intercom's ``error.list`` shape."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_list(code: str, message: str) -> dict[str, Any]:
    return {"type": "error.list", "request_id": uuid.uuid4().hex,
            "errors": [{"code": code, "message": message}]}  # fmt: skip


class FakeIntercom:
    """One Intercom workspace: its companies, contacts and conversations, in Intercom's shapes."""

    def __init__(self) -> None:
        self.url = ""
        """The API's address, set once the server listens."""
        self.companies: list[dict[str, Any]] = []
        self.contacts: list[dict[str, Any]] = []
        self.conversations: list[dict[str, Any]] = []
        self.requests: list[Request] = []
        self.scroll_page_size = 2
        self.repeat_next_page = False
        """A broken paginator: every search page after the first names the same next page."""
        self._calls: Counter[str] = Counter()
        self._failures: dict[tuple[str, int], Failure] = {}
        self._scrolls: dict[str, int] = {}
        self._lock = threading.Lock()

    # The workspace's data, shaped as Intercom answers it; ``fields`` override the defaults.

    def add_company(self, id: str, *, updated_at: int, **fields: Any) -> dict[str, Any]:
        company = {
            "type": "company", "id": id, "company_id": f"ext-{id}", "app_id": "abc123",
            "name": f"Company {id}", "remote_created_at": updated_at, "created_at": updated_at,
            "updated_at": updated_at, "last_request_at": updated_at, "size": 0, "website": None,
            "industry": None, "monthly_spend": 0, "session_count": 0, "user_count": 0,
            "plan": {}, "custom_attributes": {}, "tags": {"type": "tag.list", "tags": []},
            "segments": {"type": "segment.list", "segments": []},
        } | fields  # fmt: skip
        self.companies.append(company)
        return company

    def add_contact(
        self, id: str, *, updated_at: int, companies: tuple[str, ...] = (), **fields: Any
    ) -> dict[str, Any]:
        contact = {
            "type": "contact", "id": id, "workspace_id": "abc123", "external_id": None,
            "role": "user", "email": f"{id}@example.com", "name": f"Person {id}",
            "created_at": updated_at, "updated_at": updated_at, "last_seen_at": None,
            "custom_attributes": {}, "tags": {"type": "list", "data": []},
            "companies": {
                "type": "list", "url": f"/contacts/{id}/companies",
                "data": [{"type": "company", "id": company, "url": f"/companies/{company}"}
                         for company in companies],
                "total_count": len(companies), "has_more": False,
            },
        } | fields  # fmt: skip
        self.contacts.append(contact)
        return contact

    def add_conversation(
        self,
        id: str,
        *,
        contact: str | None,
        updated_at: int,
        statistics: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        conversation = {
            "type": "conversation", "id": id, "title": None, "created_at": updated_at,
            "updated_at": updated_at, "waiting_since": None, "snoozed_until": None,
            "open": True, "state": "open", "read": True, "priority": "not_priority",
            "admin_assignee_id": None, "team_assignee_id": None, "conversation_rating": None,
            "source": {"type": "conversation", "id": f"s{id}", "delivered_as":
                       "customer_initiated", "subject": "", "body": "<p>Hello</p>",
                       "author": {"type": "user", "id": contact}},
            "contacts": {"type": "contact.list", "contacts":
                         [] if contact is None else [{"type": "contact", "id": contact}]},
            "statistics": {
                "type": "conversation_statistics", "first_contact_reply_at": None,
                "first_admin_reply_at": None, "last_admin_reply_at": None,
                "first_close_at": None, "last_close_at": None, "count_reopens": 0,
                "count_assignments": 0, "count_conversation_parts": 1,
            } | dict(statistics or {}),
        } | fields  # fmt: skip
        self.conversations.append(conversation)
        return conversation

    def fail(
        self,
        route: str,
        status: int,
        *,
        after: int = 0,
        code: str = "server_error",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Answer a request to ``route`` with ``status``, once ``after`` more have gone through."""
        self._failures[route, self._calls[route] + after + 1] = Failure(status, code, headers or {})

    def sent(self, route: str) -> list[Request]:
        """The requests received on ``route``, in order."""
        return [request for request in self.requests if request.route == route]

    # Answering.

    # --8<-- [start:answer]
    def answer(
        self, method: str, path: str, query: dict[str, str], body: Any, headers: dict[str, str]
    ) -> tuple[int, Mapping[str, str], dict[str, Any]]:
        route = f"{method} {_route(path)}"
        with self._lock:
            self.requests.append(Request(route, path, query, body, headers))
            self._calls[route] += 1
            if headers.get("authorization") != f"Bearer {TOKEN}":
                return 401, {}, error_list("unauthorized", "Access Token Invalid")
            failure = self._failures.pop((route, self._calls[route]), None)
            if failure is not None:
                return failure.status, failure.headers, error_list(failure.code, "Scheduled")
            try:
                return 200, {}, self._respond(route, path, query, body)
            except Refused as refusal:
                return refusal.status, {}, error_list(refusal.code, refusal.message)

    # --8<-- [end:answer]

    def _respond(self, route: str, path: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        if route == "GET /me":
            return {"type": "admin", "id": "991", "name": "Ops", "email": "ops@example.com",
                    "app": {"type": "app", "id_code": "abc123", "name": "Example"}}  # fmt: skip
        if route == "GET /companies/scroll":
            return self._scroll(query.get("scroll_param"))
        if route == "POST /contacts/search":
            return {"type": "list"} | self._search(self.contacts, body, "data", by_day=True)
        if route == "POST /conversations/search":
            conversations = self._search(self.conversations, body, "conversations", by_day=False)
            return {"type": "conversation.list"} | conversations
        if route == "GET /contacts/{id}":
            contact_id = path.removeprefix("/contacts/")
            for contact in self.contacts:
                if contact["id"] == contact_id:
                    return contact
            raise Refused(404, "not_found", "User Not Found")
        raise Refused(404, "not_found", f"no route {route}")

    def _scroll(self, scroll_param: str | None) -> dict[str, Any]:
        """Intercom's scroll: one ``scroll_param`` for the whole scroll, an empty page at its
        end, after which the parameter is gone."""
        if scroll_param is None:
            scroll_param = str(uuid.uuid4())
            self._scrolls[scroll_param] = 0
        elif scroll_param not in self._scrolls:
            raise Refused(404, "not_found", "scroll_param not found")
        start = self._scrolls[scroll_param]
        page = self.companies[start : start + self.scroll_page_size]
        self._scrolls[scroll_param] = start + len(page)
        if not page:
            del self._scrolls[scroll_param]
        return {"type": "list", "data": page, "pages": None, "total_count": None,
                "scroll_param": scroll_param}  # fmt: skip

    def _search(
        self, records: list[dict[str, Any]], body: Any, results: str, *, by_day: bool
    ) -> dict[str, Any]:
        """A search: the records matching ``query``, sorted, after the ``starting_after`` key,
        under the key ``results``."""
        if not isinstance(body, dict) or "query" not in body:
            raise Refused(400, "parameter_not_found", "query is required")
        sort = body.get("sort") or {"field": "created_at", "order": "descending"}
        pagination = body.get("pagination") or {}
        per_page = pagination.get("per_page", 50)
        if not 1 <= per_page <= MAX_PAGE_SIZE:
            raise Refused(400, "parameter_invalid", f"per_page must be 1 to {MAX_PAGE_SIZE}")

        def key(record: Mapping[str, Any]) -> list[Any]:
            return [_field(record, sort["field"]), record["id"]]

        descending = sort.get("order") == "descending"
        ordered = sorted((r for r in records if _matches(r, body["query"], by_day=by_day)),
                         key=key, reverse=descending)  # fmt: skip
        start = 0
        given = pagination.get("starting_after")
        if given is not None:
            after = json.loads(base64.b64decode(given))
            start = next((i for i, record in enumerate(ordered)
                          if (key(record) < after if descending else key(record) > after)),
                         len(ordered))  # fmt: skip
        page = ordered[start : start + per_page]
        pages: dict[str, Any] = {"type": "pages", "page": start // per_page + 1,
                                 "per_page": per_page,
                                 "total_pages": -(-len(ordered) // per_page)}  # fmt: skip
        if start + per_page < len(ordered):
            following = base64.b64encode(json.dumps(key(page[-1])).encode()).decode()
            if self.repeat_next_page and given is not None:
                following = given
            pages["next"] = {"page": pages["page"] + 1, "starting_after": following}
        return {results: page, "total_count": len(ordered), "pages": pages}


def _route(path: str) -> str:
    """The route a path is answered by: one contact's path is ``/contacts/{id}``."""
    if path.startswith("/contacts/") and path != "/contacts/search":
        return "/contacts/{id}"
    return path


def _field(record: Mapping[str, Any], name: str) -> Any:
    value: Any = record
    for part in name.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _matches(record: Mapping[str, Any], query: Mapping[str, Any], *, by_day: bool) -> bool:
    """Intercom's search filters; a contact search compares timestamps by UTC day."""
    operator = query.get("operator")
    if operator in ("AND", "OR"):
        found = [_matches(record, part, by_day=by_day) for part in query["value"]]
        return all(found) if operator == "AND" else any(found)
    name, wanted = query["field"], query["value"]
    value = _field(record, name)
    if by_day and name.endswith("_at") and isinstance(value, int):
        value, wanted = value // DAY, wanted // DAY
    comparisons: dict[str, Callable[[], bool]] = {
        "=": lambda: value == wanted,
        "!=": lambda: value != wanted,
        ">": lambda: value is not None and value > wanted,
        "<": lambda: value is not None and value < wanted,
        "IN": lambda: value in wanted,
        "NIN": lambda: value not in wanted,
    }
    if operator not in comparisons:
        raise Refused(400, "invalid_operator", f"{name} does not support operator: {operator}")
    return comparisons[operator]()


def _handler(fake: FakeIntercom) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

        def _answer(self, method: str) -> None:
            address = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            status, headers, answer = fake.answer(
                method, address.path, dict(parse_qsl(address.query)), body,
                {name.lower(): value for name, value in self.headers.items()},
            )  # fmt: skip
            data = json.dumps(answer).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests read ``FakeIntercom.requests`` instead."""

    return Handler


# --8<-- [start:fixtures]
@pytest.fixture
def intercom() -> Iterator[FakeIntercom]:
    """An empty fake Intercom workspace, listening on a free local port."""
    fake = FakeIntercom()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_port}"
    # A short poll interval: shutting the server down waits for the loop's next poll.
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()
    thread.join()


Connect = Callable[..., IntercomConnector]


@pytest.fixture
def connect(intercom: FakeIntercom, monkeypatch: pytest.MonkeyPatch) -> Connect:
    """Configure the connector as a user does, through ``CS_INTERCOM_*`` variables: the fake's
    address and token, pages of two, smb for companies without a segment, and ``settings``
    (``None`` unsets one)."""

    def configure(**settings: str | None) -> IntercomConnector:
        defaults = {"access_token": TOKEN, "base_url": intercom.url, "page_size": "2",
                    "default_segment": "smb"}  # fmt: skip
        for name, value in (defaults | settings).items():
            variable = f"CS_INTERCOM_{name.upper()}"
            if value is None:
                monkeypatch.delenv(variable, raising=False)
            else:
                monkeypatch.setenv(variable, value)
        connector = IntercomConnector.from_environment()
        assert isinstance(connector, IntercomConnector)
        return connector

    return configure


# --8<-- [end:fixtures]


@pytest.fixture(scope="session")
def migrated_store_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite store, made once and copied by each test that needs a store."""
    path = tmp_path_factory.mktemp("template") / "cs.db"
    with Store(f"sqlite:///{path}") as store:
        store.upgrade()
    return path


@pytest.fixture
def store(tmp_path: Path, migrated_store_file: Path) -> Iterator[Store]:
    """An empty, migrated store of the test's own."""
    path = tmp_path / "cs.db"
    shutil.copyfile(migrated_store_file, path)
    opened = Store(f"sqlite:///{path}")
    yield opened
    opened.close()
