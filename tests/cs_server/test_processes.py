"""Two server processes on one PostgreSQL: a change made through one reaches a subscriber of the
other, woken by NOTIFY (the outbox stays the truth)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport

from cs_core import Scope, Store

from .conftest import Api
from .test_subscriptions import cursor, newest_event


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def server_process(store: Store) -> Iterator[str]:
    """``cs_server`` in a uvicorn process of its own, over ``store``; yields its URL."""
    port = _free_port()
    environment = os.environ | {
        "CS_DATABASE_URL": store.engine.url.render_as_string(hide_password=False)}  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "cs_server._commands:logged_app", "--factory",
         "--port", str(port), "--log-level", "warning"],
        env=environment, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the server process did not become ready")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_a_change_through_one_process_reaches_a_subscriber_of_another(
    api: Api, demo_store: Store
) -> None:
    if demo_store.dialect != "postgresql":
        pytest.skip("processes share changes through PostgreSQL; SQLite serves one process")
    start = newest_event(demo_store)
    with server_process(demo_store) as first, server_process(demo_store) as second:
        account = api("{ accounts(first: 1) { edges { node { id } } } }")["data"]["accounts"][
            "edges"][0]["node"]["id"]  # fmt: skip

        async def scenario() -> dict[str, object]:
            transport = WebsocketsTransport(
                url=second.replace("http", "ws") + "/graphql",
                init_payload={"Authorization": f"Bearer {api.tokens[Scope.READ]}"},
                subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
            )
            request = GraphQLRequest(
                "subscription($after: String) { healthChanged(after: $after) { accountId score "
                "cause } }",
                variable_values={"after": cursor(start)},
            )
            async with Client(transport=transport) as session, asyncio.timeout(20):
                stream = session.subscribe(request)
                mutation = {"query": 'mutation($id: ID!) { overrideHealth(accountId: $id, '
                            'score: 88, reason: "renewal signed") { __typename } }',
                            "variables": {"id": account}}  # fmt: skip
                async with httpx.AsyncClient() as client:
                    answer = await client.post(
                        f"{first}/graphql", json=mutation,
                        headers={"Authorization": f"Bearer {api.tokens[Scope.WRITE]}"})  # fmt: skip
                assert answer.json()["data"]["overrideHealth"]["__typename"] == "HealthOverridden"
                received: dict[str, object] = (await anext(stream))["healthChanged"]
                await stream.aclose()
                return received

        assert asyncio.run(scenario()) == {"accountId": account, "score": 88.0, "cause": "override"}
