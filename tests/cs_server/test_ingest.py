"""The Segment-compatible endpoint: write keys, validation, de-duplication, and usage that
reaches health subscribers within seconds."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from cs_core import Account, Scope, Store, UsageEvent
from cs_server import ServerSettings, create_app

from .conftest import Api, serving
from .test_subscriptions import cursor, newest_event, subscribed, take


def basic(token: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{token}:".encode()).decode()}


def track(message_id: str, group: str, **extra: Any) -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    return {"messageId": message_id, "userId": "u1", "event": "Report Exported",
            "timestamp": now.isoformat(), "context": {"groupId": group}} | extra  # fmt: skip


def stored_events(store: Store) -> int:
    with store.transaction() as session:
        return session.scalar(select(func.count()).select_from(UsageEvent)) or 0


def test_messages_are_stored_once_and_refusals_named(api: Api, demo_store: Store) -> None:
    write = basic(api.tokens[Scope.WRITE])
    before = stored_events(demo_store)
    first = api.client.post("/v1/track", json=track("m-1", "A1"), headers=write)
    assert first.status_code == 200
    assert first.json() == {"success": True, "received": 1, "stored": 1, "rejected": []}
    again = api.client.post("/v1/track", json=track("m-1", "A1"), headers=write)
    assert again.json()["stored"] == 0  # a retried delivery is acknowledged, not stored twice
    identify = {"type": "identify", "messageId": "m-4", "userId": "u2",
                "timestamp": "2026-11-20T10:00:00Z", "traits": {"plan": "pro"}}  # fmt: skip
    no_timestamp = {"type": "track", "messageId": "m-3", "event": "x"}
    batch = {"batch": [track("m-2", "A1", type="track"), no_timestamp, identify]}
    answer = api.client.post("/v1/batch", json=batch, headers=write).json()
    assert (answer["stored"], [r["index"] for r in answer["rejected"]]) == (2, [1])
    assert "timestamp" in answer["rejected"][0]["reason"]
    assert stored_events(demo_store) == before + 3


def test_bad_requests_are_refused_and_store_nothing(api: Api, demo_store: Store) -> None:
    before = stored_events(demo_store)
    write = basic(api.tokens[Scope.WRITE])
    cases = [
        (api.client.post("/v1/track", json=track("m-9", "A1")), 401),
        (
            api.client.post(
                "/v1/track", json=track("m-9", "A1"), headers=basic(api.tokens[Scope.READ])
            ),
            401,
        ),
        (api.client.post("/v1/track", content=b"{nope", headers=write), 400),
        (api.client.post("/v1/batch", json={"batch": []}, headers=write), 400),
        (api.client.post("/v1/batch", json={"batch": [{"type": "track"}]}, headers=write), 400),
        (api.client.post("/v1/alias", json=track("m-9", "A1"), headers=write), 404),
        (api.client.post("/v1/batch", content=b"x" * 600_000, headers=write), 413),
    ]
    assert [(response.status_code, expected) for response, expected in cases] == [
        (expected, expected) for _, expected in cases
    ]
    assert "write key" in cases[0][0].json()["message"]
    assert stored_events(demo_store) == before


def test_usage_moves_health_and_reaches_subscribers(api: Api, demo_store: Store) -> None:
    with demo_store.transaction() as session:
        account = session.scalars(select(Account).order_by(Account.id)).first()
        assert account is not None
        external_id, key = account.external_id, account.id
    settings = ServerSettings(segment_account_source="demo", rescore_delay=0.1)
    start = newest_event(demo_store)
    with serving(create_app(demo_store, settings)) as url:

        async def scenario() -> list[dict[str, Any]]:
            token = api.tokens[Scope.READ]
            global_id = base64.urlsafe_b64encode(f"Account:{key}".encode()).decode()
            variables = {"after": cursor(start), "filter": {"accountIds": [global_id]}}
            async with subscribed(url, token, variables) as stream:
                now = datetime.now(UTC)
                batch = {"batch": [track(f"burst-{i}", external_id, type="track",
                                         timestamp=(now - timedelta(minutes=i)).isoformat())
                                   for i in range(50)]}  # fmt: skip
                async with httpx.AsyncClient(base_url=url) as client:
                    answer = await client.post("/v1/batch", json=batch,
                                               headers=basic(api.tokens[Scope.WRITE]))  # fmt: skip
                assert answer.json()["stored"] == 50
                return await take(stream, 1)

        (change,) = asyncio.run(scenario())
    assert change["cause"] == "customer"
