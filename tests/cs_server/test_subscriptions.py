"""Health changes streamed over graphql-transport-ws to a real client, resumable by cursor."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager
from typing import Any

import pytest
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportError, TransportQueryError
from gql.transport.websockets import WebsocketsTransport
from graphql import Executor, build_schema, map_source_to_response_event, parse
from sqlalchemy import func, select
from websockets.exceptions import ConnectionClosed

from cs_core import HEALTH_CHANGED, Account, NewEvent, OutboxEvent, Store, append_events
from cs_server import create_app
from cs_server._app import PerEventExecutor

from .conftest import Api, serving

HEALTH_CHANGES = """
subscription Changes($after: String, $filter: HealthChangeFilter) {
  healthChanged(after: $after, filter: $filter) {
    cursor accountId score tier previousScore previousTier delta cause
  }
}
"""


def cursor(event_id: int) -> str:
    return base64.urlsafe_b64encode(f"outbox:{event_id}".encode()).decode()


def newest_event(store: Store) -> int:
    with store.transaction() as session:
        return session.scalar(select(func.max(OutboxEvent.id))) or 0


def change_health(store: Store, scores: list[float]) -> None:
    """Commit one ``health.changed`` per score, as a scoring run would."""
    with store.transaction() as session:
        account = session.scalar(select(Account.id).order_by(Account.id)) or 0
        append_events(session, [
            NewEvent(HEALTH_CHANGED, {
                "account_id": account, "scorecard": "sop", "scorecard_version": 1,
                "as_of": "2026-11-02T00:00:00+00:00", "previous": {"score": 50.0, "tier": "Red"},
                "current": {"score": score, "tier": "Green" if score >= 80 else "Yellow"},
                "delta": score - 50.0, "cause": "customer", "moved": []}, account)
            for score in scores
        ])  # fmt: skip


@asynccontextmanager
async def subscribed(
    url: str, token: str | None, variables: dict[str, Any]
) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
    payload = {} if token is None else {"Authorization": f"Bearer {token}"}
    transport = WebsocketsTransport(
        url=url.replace("http", "ws") + "/graphql",
        init_payload=payload,
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )
    async with Client(transport=transport) as session:
        request = GraphQLRequest(HEALTH_CHANGES, variable_values=variables)
        async with aclosing(session.subscribe(request)) as stream:  # unsubscribes on the way out
            yield stream


async def take(stream: AsyncIterator[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    taken = []
    async with asyncio.timeout(10):
        async for item in stream:
            taken.append(item["healthChanged"])
            if len(taken) == count:
                break
    return taken


@pytest.fixture
def server_url(api: Api) -> str:
    return str(api.client.base_url).rstrip("/")


def test_live_changes_reach_a_subscriber_filtered(
    api: Api, demo_store: Store, server_url: str
) -> None:
    start = newest_event(demo_store)

    async def scenario() -> list[dict[str, Any]]:
        variables = {"after": cursor(start), "filter": {"tiers": ["Green"]}}
        async with subscribed(server_url, api.tokens[next(iter(api.tokens))], variables) as stream:
            await asyncio.to_thread(change_health, demo_store, [60.0, 85.0, 70.0, 90.0])
            return await take(stream, 2)

    changes = asyncio.run(scenario())
    assert [(c["score"], c["tier"], c["previousTier"]) for c in changes] == [
        (85.0, "Green", "Red"), (90.0, "Green", "Red")]  # fmt: skip


def test_a_client_resumes_from_its_cursor_across_a_restart_exactly_once(
    api: Api, demo_store: Store, server_url: str
) -> None:
    token = api.tokens[next(iter(api.tokens))]
    start = newest_event(demo_store)

    async def first_connection() -> list[dict[str, Any]]:
        async with subscribed(server_url, token, {"after": cursor(start)}) as stream:
            await asyncio.to_thread(change_health, demo_store, [61.0, 62.0, 63.0])
            return await take(stream, 3)

    seen = asyncio.run(first_connection())
    # Disconnected: three more changes happen, and the server restarts.
    change_health(demo_store, [64.0, 65.0, 66.0])
    with serving(create_app(demo_store)) as restarted:

        async def second_connection() -> list[dict[str, Any]]:
            async with subscribed(restarted, token, {"after": seen[-1]["cursor"]}) as stream:
                backlog = await take(stream, 3)
                await asyncio.to_thread(change_health, demo_store, [67.0])
                return backlog + await take(stream, 1)

        resumed = asyncio.run(second_connection())
    scores = [change["score"] for change in seen + resumed]
    assert scores == [61.0, 62.0, 63.0, 64.0, 65.0, 66.0, 67.0]
    assert len({change["cursor"] for change in seen + resumed}) == 7


def test_subscriptions_need_a_valid_token(api: Api, server_url: str) -> None:
    async def attempt(token: str | None) -> None:
        async with subscribed(server_url, token, {}) as stream:
            await take(stream, 1)

    with pytest.raises(TransportQueryError, match="needs a token with the 'read' scope"):
        asyncio.run(attempt(None))
    with pytest.raises(TransportError) as refused:
        asyncio.run(attempt("cs_not-a-token"))
    closed = refused.value.__cause__
    assert isinstance(closed, ConnectionClosed)
    assert closed.rcvd is not None
    assert (closed.rcvd.code, closed.rcvd.reason) == (4403, "Forbidden")


def test_each_subscription_event_collects_its_fields_afresh() -> None:
    """graphql-core 3.3 shares the subscription's subfield memo with every event's executor, so
    it grows by an entry per event for as long as the subscription lasts. When the first
    assertion fails, graphql-core has mended it and ``PerEventExecutor`` can go."""
    built = build_schema("""
        type Query { unused: Int }
        type Event { n: Int }
        type Subscription { events: Event }
    """)

    async def source() -> AsyncIterator[dict[str, Any]]:
        for n in range(3):
            yield {"events": {"n": n}}

    async def run(executor: Executor[Any]) -> list[Any]:
        return [result.data async for result in map_source_to_response_event(executor, source())]

    document = parse("subscription { events { n } }")
    for executor_class, memo_entries in ((Executor, 3), (PerEventExecutor, 0)):
        executor = executor_class.build(built, document)
        assert isinstance(executor, Executor)
        assert asyncio.run(run(executor)) == [{"events": {"n": n}} for n in range(3)]
        assert len(executor._relevant_sub_fields) == memo_entries, executor_class


def test_a_bad_cursor_or_account_id_is_refused_with_what_to_fix(api: Api, server_url: str) -> None:
    token = api.tokens[next(iter(api.tokens))]

    async def attempt(variables: dict[str, Any]) -> None:
        async with subscribed(server_url, token, variables) as stream:
            await take(stream, 1)

    with pytest.raises(TransportQueryError, match="'nope' is not an event cursor: pass one a"):
        asyncio.run(attempt({"after": "nope"}))
    with pytest.raises(
        TransportQueryError, match="'nope' is not an Account id: pass one the API gave"
    ):
        asyncio.run(attempt({"filter": {"accountIds": ["nope"]}}))
