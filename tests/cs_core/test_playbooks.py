"""Playbooks: specs refused with reasons, the engine firing once per occurrence, deliveries
recorded and retried, previews that change nothing, effectiveness, and tasks."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from cs_core import (
    CONTACT_ROLE_CHANGED,
    AccountFlag,
    AccountRecord,
    AccountRef,
    ConfigurationError,
    ContactRecord,
    DailyUsage,
    DemoOptions,
    InvalidArgumentError,
    Notification,
    OutboxEvent,
    Playbook,
    PlaybookAction,
    PlaybookFiring,
    Store,
    Task,
    TaskStatus,
    append_event,
    builtin_playbooks,
    complete_task,
    deliver_pending,
    installed_playbooks,
    list_tasks,
    load_demo,
    load_playbooks,
    load_policies,
    playbook_actions,
    playbook_effectiveness,
    preview_playbook,
    reassign_task,
    run_playbooks,
    score_all,
    snooze_task,
    update_lifecycle,
    write_daily_usage,
)
from cs_core._actions import ActionFailedError, ActionRegistry

from .conftest import account_id, record_health

NOW = datetime(2026, 11, 2, 12, tzinfo=UTC)


def playbook(**spec: Any) -> Playbook:
    return Playbook.model_validate(
        {"name": "test", "title": "Test", "actions": [{"kind": "create_task", "type": "risk",
                                                       "title": "Call {account_name}"}]} | spec
    )  # fmt: skip


# Specs.


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"trigger": {"kind": "tier_entered", "tier": "Red"},
          "actions": [{"kind": "create_task", "type": "risk", "title": "Call {customer}"}]},
         "names {customer}; a template may name account, account_name"),
        ({"trigger": {"kind": "weather"}}, "does not match any of the expected tags"),
        ({"trigger": {"kind": "score_drop", "points": 0}}, "greater than 0"),
        ({"trigger": {"kind": "tier_entered", "tier": "Red"}, "actions": []},
         "at least 1 item"),
        ({"trigger": {"kind": "tier_entered", "tier": "Red"}, "name": "Bad Name"},
         "should match pattern"),
    ],
)  # fmt: skip
def test_a_bad_playbook_is_refused_with_the_reason(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        playbook(**spec)


def test_the_seeds_playbooks_ship() -> None:
    names = {found.name for found in builtin_playbooks()}
    assert {"green-expansion-advocacy", "yellow-recovery", "red-save", "churn-intervention",
            "usage-spike-expansion", "champion-promoted", "product-launch", "at-risk-renewal",
            "onboarding-enterprise", "onboarding-mid-market", "onboarding-smb",
            "onboarding-plg"} <= names  # fmt: skip


def test_playbook_files_add_replace_and_turn_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.toml").write_text(
        '[[playbook]]\nname = "red-save"\ntitle = "Off"\nenabled = false\n'
        'trigger = { kind = "tier_entered", tier = "Red" }\n'
        '[[playbook.actions]]\nkind = "escalate"\n'
    )
    (tmp_path / "b.toml").write_text(
        '[[playbook]]\nname = "mine"\ntitle = "Mine"\n'
        'trigger = { kind = "score_drop", points = 10 }\n'
        '[[playbook.actions]]\nkind = "set_flag"\nflag = "dropped"\n'
    )
    monkeypatch.setenv("CS_PLAYBOOKS", str(tmp_path))
    found = {p.name: p for p in installed_playbooks()}
    assert found["red-save"].enabled is False
    assert found["mine"].trigger.kind == "score_drop"
    (tmp_path / "c.toml").write_text((tmp_path / "b.toml").read_text())
    with pytest.raises(ConfigurationError, match="playbook 'mine' is declared in two files"):
        load_playbooks(tmp_path)
    (tmp_path / "c.toml").write_text("[[playbook]]\nname = 1\n")
    with pytest.raises(ConfigurationError, match=r"c\.toml is not valid: playbook\.0\.name"):
        load_playbooks(tmp_path)
    with pytest.raises(ConfigurationError, match="is neither a file nor a folder"):
        load_playbooks(tmp_path / "missing.toml")


# The engine.


def _account(
    store: Store, key: str = "A", *, seats: int = 10, owner: str = "ann@cs.example"
) -> int:
    store.write([AccountRecord(source="crm", external_id=key, name=f"Account {key}",
                               segment="smb", owner=owner, lifecycle_stage="success",
                               licensed_seats=seats)])  # fmt: skip
    with store.transaction() as session:
        return account_id(session, key)


def _health_event(store: Store, account: int, before: str | None, after: str, score: float) -> None:
    with store.transaction() as session:
        record_health(session, account, NOW - timedelta(hours=1), after, latest=True)
        append_event(session, "health.changed", {
            "account_id": account, "previous": before and {"score": 70.0, "tier": before},
            "current": {"score": score, "tier": after},
            "delta": None if before is None else score - 70.0}, account_id=account)  # fmt: skip


def _count(store: Store, model: type, **where: Any) -> int:
    with store.transaction() as session:
        query = select(func.count()).select_from(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return session.scalar(query) or 0


RED = playbook(
    name="red", trigger={"kind": "tier_entered", "tier": "Red"},
    conditions=[{"kind": "no_open_task", "type": "risk"}],
    actions=[{"kind": "create_task", "type": "risk", "title": "Save {account_name} ({reason})",
              "priority": "high", "due_in_days": 2},
             {"kind": "set_flag", "flag": "save_motion", "value": "active"},
             {"kind": "escalate"}],
)  # fmt: skip


def test_a_tier_entered_fires_once_with_its_actions(store: Store) -> None:
    account = _account(store)
    _health_event(store, account, "Yellow", "Red", 41.0)
    report = run_playbooks(store, playbooks=[RED], as_of=NOW)
    assert (report.fired, report.tasks_created, report.flags_set, report.tasks_escalated) == (
        1, 1, 1, 1,
    )  # fmt: skip
    (task,) = list_tasks(store)
    assert task.title == "Save Account A (entered Red (score 41.0))"
    # Escalated at once: to the CSM's manager, one priority up.
    assert (task.owner_role, task.owner, task.priority.value, task.due_on) == (
        "cs_manager", None, "urgent", date(2026, 11, 4),
    )  # fmt: skip
    assert _count(store, AccountFlag, flag="save_motion") == 1
    with store.transaction() as session:
        outcomes = session.execute(
            select(PlaybookAction.kind, PlaybookAction.status, PlaybookAction.outcome)
            .order_by(PlaybookAction.position)
        ).all()  # fmt: skip
    assert [(kind, status) for kind, status, _ in outcomes] == [
        ("create_task", "done"), ("set_flag", "done"), ("escalate", "done"),
    ]  # fmt: skip
    assert outcomes[2][2] == "escalated 1 open tasks"

    again = run_playbooks(store, playbooks=[RED], as_of=NOW)
    assert (again.fired, again.tasks_created) == (0, 0)
    assert _count(store, Task) == 1
    assert _count(store, OutboxEvent, type="playbook.fired") == 1


def test_conditions_block_and_say_why(store: Store) -> None:
    account = _account(store)
    _health_event(store, account, "Yellow", "Red", 41.0)
    run_playbooks(store, playbooks=[RED], as_of=NOW)
    _health_event(store, account, "Green", "Red", 30.0)  # Red again, a risk task is open
    (hit,) = preview_playbook(store, RED, as_of=NOW)
    assert (hit.fires, hit.blocked_by) == (False, "an open risk task exists")
    assert run_playbooks(store, playbooks=[RED], as_of=NOW).fired == 0


def test_a_dry_run_records_and_sends_nothing(store: Store) -> None:
    account = _account(store)
    _health_event(store, account, "Yellow", "Red", 41.0)
    before = _count(store, OutboxEvent)
    report = run_playbooks(store, playbooks=[RED], as_of=NOW, dry_run=True)
    assert (report.run_id, report.fired) == (None, 1)
    (hit,) = report.hits
    assert hit.actions[0] == (
        "task (risk, high, due in 2 days) for csm: Save Account A (entered Red (score 41.0))"
    )
    assert (_count(store, Task), _count(store, PlaybookFiring), _count(store, OutboxEvent)) == (
        0, 0, before,
    )  # fmt: skip
    assert run_playbooks(store, playbooks=[RED], as_of=NOW).fired == 1  # still to fire


def test_a_state_fires_once_per_episode(store: Store) -> None:
    account = _account(store, seats=10)
    spike = playbook(name="spike", trigger={"kind": "usage_over_entitlement", "share": 0.8})
    ref = AccountRef(source="crm", external_id="A")

    def usage(day: date, users: int) -> None:
        with store.transaction() as session:
            write_daily_usage(session, [DailyUsage(ref, day, users, users * 3)])

    usage(date(2026, 11, 1), 9)
    assert run_playbooks(store, playbooks=[spike], as_of=NOW).fired == 1
    assert run_playbooks(store, playbooks=[spike], as_of=NOW + timedelta(days=1)).fired == 0
    # Usage falls back (the peak of 30 days leaves the window): the episode ends...
    later = NOW + timedelta(days=40)
    usage(date(2026, 12, 10), 2)
    assert run_playbooks(store, playbooks=[spike], as_of=later).fired == 0
    # ...and a new spike is a new occurrence.
    usage(date(2026, 12, 12), 10)
    assert run_playbooks(store, playbooks=[spike], as_of=later + timedelta(days=1)).fired == 1
    assert len(list_tasks(store, account_id=account)) == 2


def test_a_contact_who_becomes_champion_fires_champion_promoted(store: Store) -> None:
    _account(store)
    contact = {"source": "crm", "external_id": "C1", "account_external_id": "A",
               "email": "dana@a.example", "title": "Manager"}  # fmt: skip
    store.write([ContactRecord(**contact)])
    store.write([ContactRecord(**contact | {"title": "VP Operations", "is_champion": True})])
    with store.transaction() as session:
        (payload,) = session.scalars(
            select(OutboxEvent.payload).where(OutboxEvent.type == CONTACT_ROLE_CHANGED)
        ).all()
    assert payload["change"] == "title Manager -> VP Operations; became champion"
    assert payload["became"] == ["champion"]
    promoted = next(p for p in builtin_playbooks() if p.name == "champion-promoted")
    report = run_playbooks(store, playbooks=[promoted], as_of=NOW)
    assert report.fired == 1
    (task,) = list_tasks(store)
    assert task.title.endswith("(dana@a.example: title Manager -> VP Operations; became champion)")


def test_an_event_without_an_account_reaches_every_account_the_conditions_admit(
    store: Store,
) -> None:
    for key in "ABC":
        account = _account(store, key)
        _health_event(store, account, None, "Green" if key != "C" else "Red", 90.0)
    launch = next(p for p in builtin_playbooks() if p.name == "product-launch")
    launch = launch.model_copy(update={"conditions": launch.conditions[:1]})  # Green only
    with store.transaction() as session:
        append_event(session, "product.launched", {"reason": "Workflows 2.0 launched"})
    report = run_playbooks(store, playbooks=[launch], as_of=NOW)
    assert report.fired == 2
    assert sorted(t.title for t in list_tasks(store)) == [
        "Present the new launch to Account A", "Present the new launch to Account B",
    ]  # fmt: skip


class _Flaky:
    """An action that fails until told otherwise."""

    name = "flaky"

    def __init__(self) -> None:
        self.working = False
        self.sent: list[Notification] = []

    def send(self, notification: Notification, options: Any) -> str:
        if not self.working:
            raise ActionFailedError(f"{options['target']} is down")
        self.sent.append(notification)
        return "delivered"


@pytest.fixture
def flaky() -> tuple[_Flaky, ActionRegistry]:
    action = _Flaky()
    registry = ActionRegistry()
    registry.add("test", action)
    return action, registry


NOTIFY = playbook(
    name="notify", trigger={"kind": "tier_entered", "tier": "Red"},
    actions=[{"kind": "notify", "channel": "ops", "message": "{account_name} is {tier}"}],
)  # fmt: skip


def _policies_with_channel() -> Any:
    policies = load_policies()
    channels = {"ops": {"action": "flaky", "target": "pager"}}
    return policies.model_copy(
        update={"playbooks": policies.playbooks.model_validate(
            policies.playbooks.model_dump() | {"channels": channels})}
    )  # fmt: skip


def test_failed_deliveries_are_recorded_retried_and_never_duplicated(
    store: Store, flaky: tuple[_Flaky, ActionRegistry]
) -> None:
    action, registry = flaky
    policies = _policies_with_channel()
    account = _account(store)
    _health_event(store, account, "Yellow", "Red", 41.0)
    report = run_playbooks(store, playbooks=[NOTIFY], as_of=NOW, policies=policies,
                           actions=registry)  # fmt: skip
    assert (report.fired, report.actions_sent, report.actions_failed) == (1, 0, 1)
    (failed,) = playbook_actions(store, statuses=["retrying"])
    assert (failed.attempts, failed.outcome) == (1, "pager is down")
    assert failed.next_attempt_at is not None
    # Not yet due: a second run leaves it waiting.
    assert run_playbooks(store, playbooks=[NOTIFY], as_of=NOW, policies=policies,
                         actions=registry).actions_failed == 0  # fmt: skip
    action.working = True
    sent = deliver_pending(store, policies=policies, actions=registry,
                           now=failed.next_attempt_at + timedelta(seconds=1))  # fmt: skip
    assert sent == {"sent": 1}
    (note,) = action.sent
    assert note.message == "Account A is Red"
    assert note.idempotency_key.startswith("notify:")
    assert deliver_pending(store, policies=policies, actions=registry,
                           now=datetime.now(UTC) + timedelta(days=1)) == {}  # fmt: skip
    assert [a.status for a in playbook_actions(store)] == ["sent"]


def test_deliveries_give_up_after_max_attempts_and_stay_visible(
    store: Store, flaky: tuple[_Flaky, ActionRegistry]
) -> None:
    _, registry = flaky
    policies = _policies_with_channel()
    account = _account(store)
    _health_event(store, account, "Yellow", "Red", 41.0)
    run_playbooks(store, playbooks=[NOTIFY], as_of=NOW, policies=policies, actions=registry)
    # Deliveries happen on the clock, not at the as-of time: retry over the next days.
    started = datetime.now(UTC)
    for hours in range(1, 200, 12):
        deliver_pending(store, policies=policies, actions=registry,
                        now=started + timedelta(hours=hours))  # fmt: skip
    (gave_up,) = playbook_actions(store, statuses=["failed"])
    assert gave_up.attempts == policies.playbooks.max_attempts
    assert gave_up.next_attempt_at is None


def test_an_empty_list_of_playbooks_runs_none(store: Store) -> None:
    account = _account(store)
    _health_event(store, account, "Yellow", "Red", 41.0)
    assert run_playbooks(store, playbooks=[], as_of=NOW).by_playbook == {}
    assert _count(store, Task) == 0


def test_an_undeclared_channel_is_refused_before_anything_happens(store: Store) -> None:
    account = _account(store)
    _health_event(store, account, "Yellow", "Red", 41.0)
    with pytest.raises(ConfigurationError, match=r"add \[playbooks\.channels\.ops\]"):
        run_playbooks(store, playbooks=[NOTIFY], as_of=NOW)
    assert _count(store, PlaybookFiring) == 0


def test_preview_of_an_unknown_playbook_names_the_known(store: Store) -> None:
    with pytest.raises(ConfigurationError, match="no playbook 'nope'; known: at-risk-renewal"):
        preview_playbook(store, "nope")


def test_effectiveness_counts_recoveries_within_the_window(store: Store) -> None:
    account = _account(store)
    _health_event(store, account, "Yellow", "Red", 41.0)
    run_playbooks(store, playbooks=[RED], as_of=NOW)
    assert [(e.fired, e.judged, e.worked) for e in playbook_effectiveness(
        store, as_of=NOW + timedelta(days=1), playbooks=[RED])] == [(1, 0, 0)]  # fmt: skip
    with store.transaction() as session:
        record_health(session, account, NOW + timedelta(days=10), "Yellow")
    (effect,) = playbook_effectiveness(store, as_of=NOW + timedelta(days=11), playbooks=[RED])
    assert (effect.fired, effect.judged, effect.worked, effect.rate) == (1, 1, 1, 1.0)


def test_tasks_are_completed_snoozed_and_reassigned(store: Store) -> None:
    account = _account(store)
    _health_event(store, account, "Yellow", "Red", 41.0)
    run_playbooks(store, playbooks=[playbook(trigger={"kind": "tier_entered", "tier": "Red"})],
                  as_of=NOW)  # fmt: skip
    (task,) = list_tasks(store, owner="ann@cs.example")
    assert reassign_task(store, task.id, owner="bob@cs.example").owner == "bob@cs.example"
    snoozed = snooze_task(store, task.id, until=date(2026, 11, 20))
    assert (snoozed.status, snoozed.due_on) == (TaskStatus.SNOOZED, date(2026, 11, 20))
    done = complete_task(store, task.id, by="bob@cs.example")
    assert (done.status, done.completed_by) == (TaskStatus.DONE, "bob@cs.example")
    assert list_tasks(store) == []
    with pytest.raises(InvalidArgumentError, match=f"task {task.id} is already done"):
        complete_task(store, task.id, by="bob@cs.example")
    with pytest.raises(InvalidArgumentError, match="no task 999"):
        reassign_task(store, 999, owner="x@cs.example")
    with pytest.raises(InvalidArgumentError, match="needs who did it"):
        complete_task(store, task.id, by=" ")
    with store.transaction() as session:
        kinds = session.scalars(select(OutboxEvent.type).where(OutboxEvent.type.like("task.%")))
        assert sorted(kinds) == ["task.completed", "task.created", "task.reassigned",
                                 "task.snoozed"]  # fmt: skip


def test_a_generated_store_runs_a_day_of_playbooks_twice_with_nothing_new(store: Store) -> None:
    """The issue's "done means": the second run of the day finds everything already done."""
    options = DemoOptions(accounts=40, seed=11, as_of=date(2026, 11, 1))
    load_demo(store, options)
    moment = datetime(2026, 11, 1, tzinfo=UTC)
    score_all(store, as_of=moment)
    update_lifecycle(store, as_of=moment)

    def snapshot() -> dict[str, Any]:
        with store.transaction() as session:
            return {
                "tasks": session.execute(select(Task.account_id, Task.title, Task.owner_role,
                                                Task.priority).order_by(Task.id)).all(),
                "firings": session.scalars(
                    select(PlaybookFiring.key).order_by(PlaybookFiring.key)
                ).all(),
                "flags": session.execute(select(AccountFlag.account_id, AccountFlag.flag)
                                         .order_by(AccountFlag.account_id, AccountFlag.flag)).all(),
                "events": session.scalar(select(func.count()).select_from(OutboxEvent)),
            }  # fmt: skip

    first = run_playbooks(store, as_of=moment)
    after_first = snapshot()
    second = run_playbooks(store, as_of=moment)
    assert first.fired > 0
    assert first.tasks_created == len(after_first["tasks"])
    assert (second.fired, second.tasks_created, second.actions_sent, second.actions_failed) == (
        0, 0, 0, 0,
    )  # fmt: skip
    assert snapshot() == after_first
    assert json.dumps(second.by_playbook) == json.dumps(dict.fromkeys(first.by_playbook, 0))


EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def test_the_docs_playbooks_and_channels_work_together(store: Store) -> None:
    mine = load_playbooks(EXAMPLES / "playbooks.toml")
    assert [p.name for p in mine] == ["sharp-drop", "gone-quiet", "product-launch"]
    policies = load_policies(EXAMPLES / "policies_channels.toml")
    assert {name: c.action for name, c in policies.playbooks.channels.items()} == {
        "cs-team": "slack", "ops-webhook": "webhook", "leads": "email",
    }  # fmt: skip
    report = run_playbooks(store, playbooks=mine, as_of=NOW, policies=policies, dry_run=True)
    assert report.by_playbook == {"sharp-drop": 0, "gone-quiet": 0}  # product-launch is off
