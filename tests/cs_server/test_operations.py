"""Mutations that do work: tasks completed, snoozed and reassigned, playbook runs, rescoring and
syncs; typed errors for what a caller gets wrong, and the scope each needs."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from cs_core import (
    HealthHistory,
    PlaybookFiring,
    PlaybookRun,
    Scope,
    ScoringRun,
    Store,
    SyncRun,
    SyncRunStream,
    Task,
    TaskStatus,
    installed_playbooks,
    list_tasks,
    playbook_runs,
    preview_playbook,
    run_playbooks,
    sync_state,
)

from .conftest import AS_OF, Api, global_id, store_key

TASK_FIELDS = """__typename ... on TaskChanged { task { id status owner dueOn snoozedUntil
                 completedBy } } ... on TaskNotFound { message } ... on Rejected { message }"""
COMPLETE = f"mutation($id: ID!) {{ completeTask(taskId: $id) {{ {TASK_FIELDS} }} }}"
SNOOZE = f"""mutation($id: ID!, $until: Date!) {{
  snoozeTask(taskId: $id, until: $until) {{ {TASK_FIELDS} }} }}"""
REASSIGN = f"""mutation($id: ID!, $owner: String!) {{
  reassignTask(taskId: $id, owner: $owner) {{ {TASK_FIELDS} }} }}"""


def _task(store: Store, key: int) -> Task:
    with store.transaction() as session:
        task = session.get_one(Task, key)
        session.expunge(task)
    return task


def test_tasks_are_completed_snoozed_and_reassigned_or_refused(api: Api, demo_store: Store) -> None:
    run_playbooks(demo_store)
    first, second, third = list_tasks(demo_store)[:3]

    def answer(document: str, variables: dict[str, Any]) -> dict[str, Any]:
        data = api(document, variables, scope=Scope.WRITE)["data"]
        result: dict[str, Any] = next(iter(data.values()))
        return result

    refused = api(COMPLETE, {"id": global_id("Task", first.id)}, scope=Scope.READ)
    assert refused["data"] is None
    assert "needs a token with the 'write' scope" in refused["errors"][0]["message"]
    assert _task(demo_store, first.id).status is TaskStatus.OPEN
    done = answer(COMPLETE, {"id": global_id("Task", first.id)})
    assert (done["task"]["status"], done["task"]["completedBy"]) == ("DONE", "write-client")
    assert _task(demo_store, first.id).status is TaskStatus.DONE
    assert answer(COMPLETE, {"id": global_id("Task", first.id)}) == {
        "__typename": "Rejected",
        "message": f"task {first.id} is already done",
    }

    until = datetime.now(UTC).date() + timedelta(days=10)
    snoozed = answer(SNOOZE, {"id": global_id("Task", second.id), "until": until.isoformat()})
    stored = _task(demo_store, second.id)
    assert (stored.status, stored.snoozed_until, stored.due_on) == (
        TaskStatus.SNOOZED,
        until,
        until,
    )
    assert snoozed["task"] == {
        "id": global_id("Task", second.id),
        "status": "SNOOZED",
        "owner": second.owner,
        "dueOn": until.isoformat(),
        "snoozedUntil": until.isoformat(),
        "completedBy": None,
    }

    moved = answer(REASSIGN, {"id": global_id("Task", third.id), "owner": "bea@cs.example.com"})
    assert moved["task"]["owner"] == _task(demo_store, third.id).owner == "bea@cs.example.com"

    # What a caller gets wrong comes back typed, and changes nothing.
    assert answer(COMPLETE, {"id": global_id("Task", 99999)}) == {
        "__typename": "TaskNotFound",
        "message": f"no task {global_id('Task', 99999)}",
    }
    account_id = global_id("Account", third.account_id)
    assert answer(REASSIGN, {"id": account_id, "owner": "x"}) == {
        "__typename": "TaskNotFound",
        "message": f"{account_id!r} is not a Task id: pass one the API gave",
    }
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    past = answer(SNOOZE, {"id": global_id("Task", third.id), "until": yesterday.isoformat()})
    assert past["__typename"] == "Rejected"
    assert past["message"].startswith("snooze until a day after today")
    assert answer(REASSIGN, {"id": global_id("Task", third.id), "owner": " "}) == {
        "__typename": "Rejected",
        "message": "reassigning a task needs the new owner",
    }
    unchanged = _task(demo_store, third.id)
    assert (unchanged.status, unchanged.due_on, unchanged.owner) == (
        TaskStatus.OPEN,
        third.due_on,
        "bea@cs.example.com",
    )


RUN = """mutation($names: [String!], $dry: Boolean!) { runPlaybooks(names: $names, dryRun: $dry) {
  __typename ... on PlaybookRunDone { runId dryRun fired tasksCreated byPlaybook { playbook fired }
    hits { playbook account fires } }
  ... on PlaybookNotFound { message } ... on Rejected { message } } }"""


def _count(store: Store, table: type[Any]) -> int:
    with store.transaction() as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


def test_playbooks_listed_previewed_run_dry_then_for_real(api: Api, demo_store: Store) -> None:
    listed = api("""{ playbooks { name enabled stateTriggered trigger { kind settings }
                      conditions { kind settings } actions { kind settings } } }""")
    installed = {playbook.name: playbook for playbook in installed_playbooks()}
    assert [p["name"] for p in listed["data"]["playbooks"]] == list(installed)
    red_save = next(p for p in listed["data"]["playbooks"] if p["name"] == "red-save")
    assert red_save["trigger"] == {"kind": "tier_entered", "settings": {"tier": "Red"}}
    assert [action["kind"] for action in red_save["actions"]] == [
        "create_task",
        "escalate",
        "set_flag",
    ]
    preview = """query($name: String!) { playbookPreview(name: $name) { __typename
      ... on PlaybookPreview { playbook hits { account occurrence reason blockedBy actions fires } }
      ... on PlaybookNotFound { message } } }"""
    shown = api(preview, {"name": "red-save"})["data"]["playbookPreview"]
    previewed = preview_playbook(demo_store, "red-save")
    assert shown["hits"] == [
        {
            "account": hit.account,
            "occurrence": hit.occurrence,
            "reason": hit.reason,
            "blockedBy": hit.blocked_by,
            "actions": list(hit.actions),
            "fires": hit.fires,
        }
        for hit in previewed
    ]
    assert any(hit["fires"] for hit in shown["hits"])
    assert _count(demo_store, PlaybookFiring) == _count(demo_store, Task) == 0
    unknown = api(preview, {"name": "red-sav"})["data"]["playbookPreview"]
    assert unknown["__typename"] == "PlaybookNotFound"
    assert unknown["message"].startswith("no playbook 'red-sav'; known: at-risk-renewal, ")

    runs = "{ playbookRuns(first: 5) { id fired tasksCreated playbooks finishedAt } }"
    assert api(runs)["data"]["playbookRuns"] == []

    dry = api(RUN, {"names": ["red-save", "yellow-recovery"], "dry": True}, scope=Scope.WRITE)[
        "data"
    ]["runPlaybooks"]
    chosen = [installed["red-save"], installed["yellow-recovery"]]
    expected = run_playbooks(demo_store, playbooks=chosen, dry_run=True)
    assert dry["dryRun"] is True
    assert dry["runId"] is None
    assert dry["byPlaybook"] == [
        {"playbook": name, "fired": count} for name, count in expected.by_playbook.items()
    ]
    assert dry["hits"] == [
        {"playbook": hit.playbook, "account": hit.account, "fires": hit.fires}
        for hit in expected.hits
    ]
    assert dry["fired"] == expected.fired > 0
    assert _count(demo_store, Task) == _count(demo_store, PlaybookRun) == 0

    real = api(RUN, {"names": ["red-save"], "dry": False}, scope=Scope.WRITE)["data"]
    done = real["runPlaybooks"]
    [run] = playbook_runs(demo_store)
    assert done["runId"] == global_id("PlaybookRun", run.id)
    assert done["fired"] == run.fired == expected.by_playbook["red-save"]
    assert done["tasksCreated"] == run.tasks_created == _count(demo_store, Task) > 0
    assert done["hits"] == []

    assert api(runs)["data"]["playbookRuns"] == [
        {
            "id": global_id("PlaybookRun", run.id),
            "fired": run.fired,
            "tasksCreated": run.tasks_created,
            "playbooks": run.playbooks,
            "finishedAt": run.finished_at and run.finished_at.isoformat(),
        }
    ]

    unknown = api(RUN, {"names": ["red-save", "nope"], "dry": False}, scope=Scope.WRITE)
    assert unknown["data"]["runPlaybooks"]["__typename"] == "PlaybookNotFound"
    assert "no playbook 'nope'" in unknown["data"]["runPlaybooks"]["message"]
    none = api(RUN, {"names": [], "dry": False}, scope=Scope.WRITE)["data"]["runPlaybooks"]
    assert none["__typename"] == "Rejected"
    refused = api(RUN, {"names": ["red-save"], "dry": False}, scope=Scope.READ)
    assert "needs a token with the 'write' scope" in refused["errors"][0]["message"]
    assert _count(demo_store, PlaybookRun) == 1


RESCORE = """mutation($ids: [ID!]!) { rescoreAccounts(accountIds: $ids) { __typename
  ... on ScoringRunDone { runId kind accounts changed events tiers { tier accounts } }
  ... on AccountNotFound { message } ... on Rejected { message } } }"""


def test_accounts_are_rescored_in_an_incremental_run(api: Api, demo_store: Store) -> None:
    ids = [
        edge["node"]["id"]
        for edge in api("{ accounts(first: 3) { edges { node { id } } } }")["data"]["accounts"][
            "edges"
        ]
    ]
    done = api(RESCORE, {"ids": ids}, scope=Scope.WRITE)["data"]["rescoreAccounts"]
    with demo_store.transaction() as session:
        run = session.get_one(ScoringRun, done["runId"])
        rescored = set(
            session.scalars(select(HealthHistory.account_id).where(HealthHistory.run_id == run.id))
        )
    assert done["__typename"] == "ScoringRunDone"
    assert (done["kind"], done["accounts"], done["changed"], done["events"]) == (
        run.kind,
        run.accounts,
        run.changed,
        run.events,
    )
    assert (run.kind, run.accounts) == ("incremental", 3)
    # Scored now, weeks after the demo's day, their health moved.
    assert done["changed"] == len(rescored) > 0
    assert rescored <= {store_key(account_id) for account_id in ids}
    assert sum(tier["accounts"] for tier in done["tiers"]) == 3

    unknown = api(RESCORE, {"ids": [ids[0], global_id("Account", 99999)]}, scope=Scope.WRITE)[
        "data"
    ]["rescoreAccounts"]
    assert unknown == {
        "__typename": "AccountNotFound",
        "message": f"no account {global_id('Account', 99999)}",
    }
    nothing = api(RESCORE, {"ids": []}, scope=Scope.WRITE)["data"]["rescoreAccounts"]
    assert nothing == {"__typename": "Rejected", "message": "name at least one account to rescore"}
    assert _count(demo_store, ScoringRun) == 2


_RUN = """runId connector fullRefresh status startedAt finishedAt recordsRead
  streams { stream status read written quarantined error }"""
SYNC = (
    """mutation($connector: String!, $streams: [String!], $full: Boolean!) {
  startSync(connector: $connector, streams: $streams, fullRefresh: $full) { __typename
    ... on SyncStarted { run { """
    + _RUN
    + """ } }
    ... on ConnectorNotFound { message } ... on ConnectorNotConfigured { message }
    ... on Rejected { message } } }"""
)
SYNC_RUN = "query($id: Int!) { syncRun(runId: $id) { " + _RUN + " } }"


def test_an_admin_syncs_a_connector(
    api: Api, demo_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The demo connector, configured as the demo store's base but with its first 3 accounts.
    monkeypatch.setenv("CS_DEMO_ACCOUNTS", "3")
    monkeypatch.setenv("CS_DEMO_AS_OF", AS_OF.isoformat())
    monkeypatch.setenv("CS_DEMO_HISTORY_DAYS", "90")
    runs = _count(demo_store, SyncRun)

    def start(connector: str, *, scope: Scope = Scope.ADMIN, **more: Any) -> dict[str, Any]:
        answer = api(SYNC, {"connector": connector, "full": True, **more}, scope=scope)
        result: dict[str, Any] = answer["data"]["startSync"] if answer["data"] else answer
        return result

    refused = start("demo", scope=Scope.WRITE)
    assert "needs a token with the 'admin' scope" in refused["errors"][0]["message"]
    unknown = start("zoho")
    assert unknown["__typename"] == "ConnectorNotFound"
    assert unknown["message"].startswith("no connector 'zoho' is installed; known: ")
    assert "demo" in unknown["message"]
    wrong_stream = start("demo", streams=["tickets"])
    assert wrong_stream["__typename"] == "Rejected"
    assert "connector 'demo' has no stream 'tickets'" in wrong_stream["message"]
    assert _count(demo_store, SyncRun) == runs

    started = start("demo")["run"]
    assert (started["connector"], started["fullRefresh"]) == ("demo", True)
    assert started["status"] in {"running", "succeeded"}  # the answer does not wait for it
    deadline = time.monotonic() + 30
    while (done := api(SYNC_RUN, {"id": started["runId"]})["data"]["syncRun"])["status"] == (
        "running"
    ):
        assert time.monotonic() < deadline, "the sync did not finish"
        time.sleep(0.05)
    assert done["status"] == "succeeded"
    assert done["finishedAt"] is not None
    with demo_store.transaction() as session:
        run = session.get_one(SyncRun, done["runId"])
        [stream] = session.scalars(select(SyncRunStream).where(SyncRunStream.run_id == run.id))
    assert api('{ syncRuns(connector: "demo", first: 1) { runId } }')["data"] == {
        "syncRuns": [{"runId": run.id}]
    }
    assert api(SYNC_RUN, {"id": 99999})["data"] == {"syncRun": None}
    assert done["streams"] == [
        {
            "stream": stream.stream,
            "status": stream.status,
            "read": stream.records_read,
            "written": stream.records_written,
            "quarantined": stream.records_quarantined,
            "error": None,
        }
    ]
    assert done["recordsRead"] == stream.records_read > 0
    state = sync_state(demo_store, "demo", "customers")
    assert state is not None
    assert state["next"] == 3

    monkeypatch.setenv("CS_DEMO_ACCOUNTS", "0")
    unconfigured = start("demo")
    assert unconfigured["__typename"] == "ConnectorNotConfigured"
    assert "CS_DEMO_ACCOUNTS" in unconfigured["message"]
    assert _count(demo_store, SyncRun) == runs + 1
