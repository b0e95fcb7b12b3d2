"""The documentation's connector plugin, synced from a local status page with its quirks."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import select

from cs_core import AccountRecord, Store, Ticket, connector_registry, plugin_manager, sync

INCIDENTS = [
    {"id": f"i{n}", "customer": "A", "title": f"Outage {n}", "impact": "p1", "state": "solved",
     "started_at": "2026-11-01T10:00:00+00:00", "updated_at": f"2026-11-01T1{n // 2}:00:00Z"}
    for n in range(6)
]  # fmt: skip


@pytest.fixture
def status_page() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Two incidents a page; the first request answers 503 with Retry-After: 0."""
    requests: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
            requests.append(query | {"auth": self.headers["Authorization"]})
            if len(requests) == 1:
                self.send_response(503)
                self.send_header("Retry-After", "0")
                self.end_headers()
                return
            since = query.get("updated_since", "")
            matching = [i for i in INCIDENTS if i["updated_at"] >= since]
            page = int(query["page"])
            body = {"incidents": matching[2 * (page - 1): 2 * page],
                    "next_page": str(page + 1) if 2 * page < len(matching) else None}  # fmt: skip
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/incidents", requests
    server.shutdown()
    server.server_close()


def test_the_docs_connector_syncs_incidents_as_tickets(
    store: Store,
    status_page: tuple[str, list[dict[str, Any]]],
    docs_example: Callable[[str], ModuleType],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, requests = status_page
    manager = plugin_manager(load_entry_points=False)
    manager.register(docs_example("connector_plugin.py"), name="status-page-plugin")
    monkeypatch.setenv("CS_STATUS_PAGE_URL", url)
    monkeypatch.setenv("CS_STATUS_PAGE_TOKEN", "t0ken")
    connector = connector_registry(manager).get("status-page").from_environment()
    assert "t0ken" not in repr(connector.settings)  # a SecretStr never shows
    store.write([AccountRecord(source="crm", external_id="A", name="A", segment="smb",
                               lifecycle_stage="success")])  # fmt: skip
    (report,) = sync(store, connector).streams
    assert (report.status, report.retries, report.written) == ("succeeded", 1, 6)
    assert requests[1]["auth"] == "Bearer t0ken"
    with store.transaction() as session:
        assert sorted(session.scalars(select(Ticket.external_id))) == [f"i{n}" for n in range(6)]
    # Again: from ">= the last cursor", the two incidents that share it are dropped as seen.
    (again,) = sync(store, connector).streams
    assert (again.read, again.written) == (0, 0)
    assert requests[-1]["updated_since"] == "2026-11-01T12:00:00Z"
