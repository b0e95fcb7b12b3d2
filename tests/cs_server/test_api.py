"""The GraphQL API over HTTP: accounts a page at a time, the 360° view, scopes, limits."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from cs_core import (
    HealthOverride,
    Scope,
    Store,
    create_token,
    revoke_token,
    run_playbooks,
    update_lifecycle,
)
from cs_server import ServerSettings, create_app

from .conftest import Api, serving

PAGE = """
query Page($first: Int!, $after: String, $filter: AccountFilter, $order: AccountOrder! = NAME) {
  accounts(first: $first, after: $after, filter: $filter, orderBy: $order) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id name segment owner lifecycleStage
      health { score tier scorecard dimensions { name score weight measures { name points } } }
      contracts { externalId arr status }
      contacts { email }
      signals { kind severity } } }
  }
}
"""


def test_probes_and_metrics(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    assert api.client.get("/readyz").json() == {"status": "ready"}
    api("{ accounts(first: 1) { totalCount } }")
    metrics = api.client.get("/metrics").text
    assert 'cs_http_requests_total{path="/graphql",status="200"}' in metrics


def test_pages_walk_every_account_once_in_order(api: Api) -> None:
    names: list[str] = []
    after = None
    while True:
        page = api(PAGE, {"first": 15, "after": after})["data"]["accounts"]
        names += [edge["node"]["name"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert page["totalCount"] == 40
    assert len(names) == 40
    assert names == sorted(names)


def test_an_account_explains_its_health(api: Api) -> None:
    edge = api(PAGE, {"first": 1, "order": "HEALTH_ASCENDING"})["data"]["accounts"]["edges"][0]
    health = edge["node"]["health"]
    assert health["tier"] == "Red"
    contributions = sum(d["score"] * d["weight"] / 100 for d in health["dimensions"]
                        if d["score"] is not None)  # fmt: skip
    assert contributions > 0
    one = api("""query One($id: ID!) { account(id: $id) { name health { explanation
                levers { measure points } } } }""", {"id": edge["node"]["id"]})  # fmt: skip
    account = one["data"]["account"]
    assert account["name"] == edge["node"]["name"]
    assert account["health"]["explanation"].startswith(f"Health {health['score']:.2f} (Red)")
    assert account["health"]["levers"]


def test_filters(api: Api) -> None:
    def names(where: dict[str, Any]) -> set[str]:
        page = api(PAGE, {"first": 100, "filter": where})["data"]["accounts"]
        return {edge["node"]["name"] for edge in page["edges"]}

    everyone = names({})
    by_segment = {s: names({"segment": s}) for s in ("PLG", "SMB", "MID_MARKET", "ENTERPRISE")}
    assert set().union(*by_segment.values()) == everyone
    red = api(PAGE, {"first": 100, "filter": {"tier": "Red"}})["data"]["accounts"]
    assert {edge["node"]["health"]["tier"] for edge in red["edges"]} == {"Red"}
    some = sorted(everyone)[3]
    assert some in names({"search": some[2:8].upper()})


FULL_VIEW = """
query Page($first: Int!) {
  accounts(first: $first) { edges { node { id name owner
    health { score dimensions { name } trend(days: 30) { change } history(first: 5) { score } }
    contracts { externalId } contacts { email } signals { kind }
    lifecycle { stage milestones { milestone overdue } }
    tasks { title dueOn }
    renewal { renewalDate likelihood currentStep { step } }
    tickets { subject sla { escalationLevel } }
    usage { events eventsChange } } } }
}
"""


_NOT_THE_PAGES = ("api_tokens", "pg_catalog", "outbox_events")


def test_a_page_costs_the_same_queries_whatever_its_size(
    api: Api, demo_store: Store, statements: Callable[[], list[str]]
) -> None:
    update_lifecycle(demo_store)
    run_playbooks(demo_store)
    statements()

    def reads() -> list[str]:
        # Leaves out token checks, the catalogue look-up of the store's readiness check that
        # PostgreSQL makes (and SQLite not), and the outbox tail's reads, which any commit wakes.
        return [sql for sql in statements() if sql.startswith("SELECT")
                and not any(table in sql for table in _NOT_THE_PAGES)]  # fmt: skip

    api(PAGE, {"first": 5})
    small = reads()
    api(PAGE, {"first": 40})
    large = reads()
    # the page, its count, health (scores and overrides in force), contracts, contacts, signals
    assert len(small) == len(large) == 7
    api(FULL_VIEW, {"first": 5})
    small = reads()
    api(FULL_VIEW, {"first": 100})
    large = reads()
    # and health's trend (the score at each end) and history, the lifecycle (evaluations and
    # milestones), tasks, tickets, usage, and the renewal forecast (the schema revision, contract
    # terms, tiers from history and overrides, signals, accounts, renewal tracks)
    assert len(small) == len(large) == 7 + 2 + 1 + 2 + 1 + 1 + 1 + 7


@pytest.mark.parametrize("remembered_for", [0.0, 0.5])
def test_a_revoked_token_stops_working_within_the_time_tokens_are_remembered(
    demo_store: Store, remembered_for: float
) -> None:
    with demo_store.transaction() as session:
        token, secret = create_token(session, "soon revoked", [Scope.READ])
    settings = ServerSettings(token_cache_seconds=remembered_for)
    with serving(create_app(demo_store, settings)) as url, httpx.Client(base_url=url) as client:

        def total() -> Any:
            response = client.post("/graphql", json={"query": "{ accounts { totalCount } }"},
                                   headers={"Authorization": f"Bearer {secret}"})  # fmt: skip
            return response.json()

        assert total()["data"] == {"accounts": {"totalCount": 40}}
        with demo_store.transaction() as session:
            revoke_token(session, token.id)
        revoked_at = time.monotonic()
        if remembered_for:
            assert total()["data"] == {"accounts": {"totalCount": 40}}
            assert time.monotonic() - revoked_at < remembered_for, "the check came too late"
            time.sleep(remembered_for)
        refused = total()
        assert refused["data"] is None
        assert "needs a token with the 'read' scope" in refused["errors"][0]["message"]


def test_calls_without_the_scope_are_refused_and_change_nothing(
    api: Api, demo_store: Store
) -> None:
    anonymous = api("{ accounts(first: 1) { totalCount } }", scope=None)
    assert anonymous["data"] is None
    assert "needs a token with the 'read' scope" in anonymous["errors"][0]["message"]
    account_id = api(PAGE, {"first": 1})["data"]["accounts"]["edges"][0]["node"]["id"]
    override = """mutation($id: ID!) { overrideHealth(accountId: $id, score: 90, reason: "QBR") {
                    __typename } }"""
    refused = api(override, {"id": account_id}, scope=Scope.READ)
    assert "needs a token with the 'write' scope" in refused["errors"][0]["message"]
    with demo_store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(HealthOverride)) == 0


def test_overrides_with_typed_errors(api: Api) -> None:
    account_id = api(PAGE, {"first": 1, "order": "HEALTH_ASCENDING"})["data"]["accounts"][
        "edges"][0]["node"]["id"]  # fmt: skip
    override = """mutation($id: ID!, $score: Float!) {
      overrideHealth(accountId: $id, score: $score, reason: "Exec sponsor re-engaged") {
        __typename
        ... on HealthOverridden { override { score tier author } account { health { score
          computedTier overridden: override { reason } } } }
        ... on Rejected { message }
        ... on AccountNotFound { message } } }"""
    done = api(override, {"id": account_id, "score": 85}, scope=Scope.WRITE)["data"]
    result = done["overrideHealth"]
    assert result["__typename"] == "HealthOverridden"
    assert result["override"] == {"score": 85.0, "tier": "Green", "author": "write-client"}
    assert result["account"]["health"]["score"] == 85.0
    assert result["account"]["health"]["computedTier"] == "Red"
    rejected = api(override, {"id": account_id, "score": 120}, scope=Scope.WRITE)["data"]
    assert rejected["overrideHealth"] == {
        "__typename": "Rejected",
        "message": "an override score is from 0 to 100, not 120",
    }
    unknown = api(override, {"id": "QWNjb3VudDo5OTk5", "score": 50}, scope=Scope.WRITE)["data"]
    assert unknown["overrideHealth"]["__typename"] == "AccountNotFound"
    clear = """mutation($id: ID!) { clearOverride(accountId: $id) { __typename
                 ... on Rejected { message } } }"""
    assert api(clear, {"id": account_id}, scope=Scope.ADMIN)["data"]["clearOverride"] == {
        "__typename": "OverrideCleared"
    }
    again = api(clear, {"id": account_id}, scope=Scope.WRITE)["data"]["clearOverride"]
    assert again["__typename"] == "Rejected"
    assert "no override in force" in again["message"]


def test_hostile_documents_are_refused(api: Api) -> None:
    huge = api("{ accounts(first: 1000) { totalCount } }")
    assert huge["errors"][0]["message"] == "first is from 1 to 100, not 1000"
    aliases = " ".join(f"a{i}: accounts(first: 100) {{ totalCount }}" for i in range(40))
    flood = api(f"{{ {aliases} }}")
    assert "aliases" in flood["errors"][0]["message"]
    deep = "{ __schema { types { " + "fields { type { " * 8 + "name" + " } }" * 8 + " } } }"
    assert api(deep)["errors"][0]["message"] == "Maximum introspection depth exceeded"
    bad_cursor = api(PAGE, {"first": 5, "after": "nonsense"})
    assert "is not a cursor of this connection" in bad_cursor["errors"][0]["message"]


def test_the_depth_limit_is_a_setting(demo_store: Store, api: Api) -> None:
    shallow = create_app(demo_store, ServerSettings(max_depth=5))
    with serving(shallow) as url, httpx.Client(base_url=url) as client:
        answer = Api(client, api.tokens)(PAGE, {"first": 1})
    assert "exceeds maximum operation depth of 5" in answer["errors"][0]["message"]
