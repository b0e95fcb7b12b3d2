"""A scored demo store, tokens of each scope, and a client of the server's application."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import event
from starlette.applications import Starlette

from cs_core import DemoOptions, Scope, Store, create_token, load_demo, score_all
from cs_server import create_app

# The server answers as of the real clock ("open", "the last 30 days"), so the demo's day moves
# with it: a fixed day would leave the demo's usage outside every window the views ask for.
AS_OF = datetime.now(UTC).date() - timedelta(days=14)


@dataclass
class Api:
    """Posts GraphQL documents with the token of a scope (``None``: no token)."""

    client: httpx.Client
    tokens: dict[Scope, str]

    def __call__(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        scope: Scope | None = Scope.READ,
    ) -> dict[str, Any]:
        headers = {} if scope is None else {"Authorization": f"Bearer {self.tokens[scope]}"}
        response = self.client.post("/graphql", json={"query": query, "variables": variables},
                                    headers=headers)  # fmt: skip
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def global_id(kind: str, key: int) -> str:
    """The API's id of the ``kind`` (Account, Task…) stored under ``key``."""
    return base64.urlsafe_b64encode(f"{kind}:{key}".encode()).decode()


def store_key(value: str) -> int:
    """The store's key behind an id of the API."""
    return int(base64.urlsafe_b64decode(value.encode()).decode().partition(":")[2])


@contextmanager
def serving(app: Starlette) -> Iterator[str]:
    """``app`` served by uvicorn on a free port of 127.0.0.1 in a thread; yields its URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                           lifespan="on"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    (port,) = {sock.getsockname()[1] for srv in server.servers for sock in srv.sockets}
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def demo_store(store: Store) -> Store:
    load_demo(store, DemoOptions(accounts=40, as_of=AS_OF, history_days=90))
    score_all(store, as_of=datetime(AS_OF.year, AS_OF.month, AS_OF.day, tzinfo=UTC))
    return store


@pytest.fixture
def api(demo_store: Store) -> Iterator[Api]:
    tokens = {}
    with demo_store.transaction() as session:
        for scope in Scope:
            tokens[scope] = create_token(session, f"{scope.value}-client", [scope])[1]
    with serving(create_app(demo_store)) as url, httpx.Client(base_url=url) as client:
        yield Api(client, tokens)


@pytest.fixture
def statements(demo_store: Store) -> Iterator[Callable[[], list[str]]]:
    """The SQL statements the store ran since the last call."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(demo_store.engine, "before_cursor_execute", record)

    def taken() -> list[str]:
        done = list(seen)
        seen.clear()
        return done

    yield taken
    event.remove(demo_store.engine, "before_cursor_execute", record)
