"""The 360° view of accounts over HTTP: health trend and history, lifecycle, tasks, renewal,
tickets and usage, each equal to what cs-core computes from the same store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from cs_core import (
    AccountLifecycle,
    MilestoneStatus,
    Store,
    Ticket,
    TicketStatus,
    UpcomingRenewal,
    UsageDaily,
    evaluate_sla,
    health_history,
    health_trend,
    list_tasks,
    load_policies,
    mark_for_rescoring,
    run_playbooks,
    score_all,
    upcoming_renewals,
    update_lifecycle,
)

from .conftest import AS_OF, Api, global_id, store_key

VIEW = """
query View($trendDays: Int!) {
  accounts(first: 100) { edges { node { id name
    health { trend(days: $trendDays) { days start end change }
      history(first: 2) { asOf score tier previousScore cause scorecard scorecardVersion } }
    lifecycle { stage enteredAt reason evaluatedAt onboardingStartedOn onboardingAtRisk
      timeToValueDays milestones { milestone dueOn completedAt evidence overdue overdueSince } }
    tasks { id title type priority status dueOn owner playbook account { name } }
    renewal { renewalDate daysToRenewal track arr tier openRiskSignals likelihood expectedArr
      currentStep { step owner action dueOn closesOn } nextStep { step dueOn } }
    tickets { externalId priority status openedAt
      sla { responseBreached resolutionBreached escalationLevel escalations { level reason } } }
    usage { days activeDays peakActiveUsers averageDailyActiveUsers events previousEvents
      eventsChange lastActiveOn } } } }
}
"""


@pytest.fixture
def lived_in(demo_store: Store) -> Store:
    """The demo a week on: its first ten accounts scored again (their health has a history),
    its lifecycle evaluated and its playbooks run now (tasks)."""
    with demo_store.transaction() as session:
        mark_for_rescoring(session, range(1, 11))
    week_later = datetime(AS_OF.year, AS_OF.month, AS_OF.day, tzinfo=UTC) + timedelta(days=7)
    score_all(demo_store, as_of=week_later, incremental=True)
    update_lifecycle(demo_store)
    run_playbooks(demo_store)
    return demo_store


def _lifecycle(store: Store, key: int) -> dict[str, Any] | None:
    today = datetime.now(UTC).date()
    with store.transaction() as session:
        row = session.get(AccountLifecycle, key)
        milestones = session.scalars(
            select(MilestoneStatus)
            .where(MilestoneStatus.account_id == key)
            .order_by(MilestoneStatus.due_on, MilestoneStatus.milestone)
        ).all()
    if row is None:
        return None
    return {
        "stage": row.stage.name,
        "enteredAt": row.entered_at.isoformat(),
        "reason": row.reason,
        "evaluatedAt": row.evaluated_at.isoformat(),
        "onboardingStartedOn": row.onboarding_started_on and row.onboarding_started_on.isoformat(),
        "onboardingAtRisk": row.at_risk,
        "timeToValueDays": row.time_to_value_days,
        "milestones": [
            {
                "milestone": m.milestone.name,
                "dueOn": m.due_on.isoformat(),
                "completedAt": m.completed_at and m.completed_at.isoformat(),
                "evidence": m.evidence,
                "overdue": m.completed_at is None and m.due_on < today,
                "overdueSince": m.overdue_since and m.overdue_since.isoformat(),
            }
            for m in milestones
        ],
    }


def _usage(store: Store, key: int, days: int) -> dict[str, Any]:
    today = datetime.now(UTC).date()
    with store.transaction() as session:
        rows = session.execute(
            select(UsageDaily.day, UsageDaily.active_users, UsageDaily.events).where(
                UsageDaily.account_id == key
            )
        ).all()
    recent = [row for row in rows if today - timedelta(days=days) < row.day <= today]
    before = sum(
        row.events
        for row in rows
        if today - timedelta(days=2 * days) < row.day <= today - timedelta(days=days)
    )
    events = sum(row.events for row in recent)
    active = [row.day for row in rows if row.active_users > 0 and row.day <= today]
    return {
        "days": days,
        "activeDays": sum(row.active_users > 0 for row in recent),
        "peakActiveUsers": max((row.active_users for row in recent), default=0),
        "averageDailyActiveUsers": round(sum(row.active_users for row in recent) / days, 2),
        "events": events,
        "previousEvents": before,
        "eventsChange": round(events / before - 1, 4) if before else None,
        "lastActiveOn": max(active).isoformat() if active else None,
    }


def _tickets(store: Store, key: int) -> list[dict[str, Any]]:
    policy, now = load_policies().support, datetime.now(UTC)
    with store.transaction() as session:
        rows = session.scalars(
            select(Ticket)
            .where(
                Ticket.account_id == key,
                Ticket.status.not_in((TicketStatus.SOLVED, TicketStatus.CLOSED)),
            )
            .order_by(Ticket.opened_at, Ticket.id)
        ).all()
    found = []
    for row in rows:
        sla = evaluate_sla(
            row.id,
            row.account_id,
            row.priority,
            row.opened_at,
            row.first_response_at,
            row.solved_at,
            policy,
            now,
        )
        found.append(
            {
                "externalId": row.external_id,
                "priority": row.priority.name,
                "status": row.status.name,
                "openedAt": row.opened_at.isoformat(),
                "sla": {
                    "responseBreached": sla.response_breached,
                    "resolutionBreached": sla.resolution_breached,
                    "escalationLevel": sla.level,
                    "escalations": [
                        {"level": move.level, "reason": move.reason} for move in sla.escalations
                    ],
                },
            }
        )
    return found


def test_each_account_shows_what_cs_core_computes_in_checked_windows(
    api: Api, lived_in: Store
) -> None:
    now = datetime.now(UTC)
    # A window reaching back to the demo's day: its first score against the week-later one.
    trend_days = (now.date() - AS_OF).days
    page = api(VIEW, {"trendDays": trend_days})
    assert "errors" not in page, page
    nodes = [edge["node"] for edge in page["data"]["accounts"]["edges"]]
    assert len(nodes) == 40
    renewals: dict[int, UpcomingRenewal] = {}
    for renewal in upcoming_renewals(lived_in, within_days=365):
        renewals.setdefault(renewal.account_id, renewal)
    for node in nodes:
        key = store_key(node["id"])
        with lived_in.transaction() as session:
            trend = health_trend(session, key, days=trend_days, as_of=now)
            history = list(reversed(health_history(session, key)))[:2]
        assert node["health"]["trend"] == {
            "days": trend_days,
            "start": trend.start,
            "end": trend.end,
            "change": trend.change,
        }
        assert node["health"]["history"] == [
            {
                "asOf": change.as_of.isoformat(),
                "score": change.score,
                "tier": change.tier,
                "previousScore": change.previous_score,
                "cause": change.cause,
                "scorecard": change.scorecard_id,
                "scorecardVersion": change.scorecard_version,
            }
            for change in history
        ]
        assert node["lifecycle"] == _lifecycle(lived_in, key)
        assert node["tasks"] == [
            {
                "id": global_id("Task", row.id),
                "title": row.title,
                "type": row.type.name,
                "priority": row.priority.name,
                "status": row.status.name,
                "dueOn": row.due_on.isoformat(),
                "owner": row.owner,
                "playbook": row.playbook,
                "account": {"name": node["name"]},
            }
            for row in list_tasks(lived_in, account_id=key)
        ]
        due = renewals.get(key)
        assert node["renewal"] == (
            None
            if due is None
            else {
                "renewalDate": due.renewal_date.isoformat(),
                "daysToRenewal": due.days_to_renewal,
                "track": due.track.name,
                "arr": str(due.arr),
                "tier": due.tier,
                "openRiskSignals": sum(due.open_signals.values()),
                "likelihood": due.likelihood,
                "expectedArr": str(due.expected_arr),
                "currentStep": due.current_step
                and {
                    "step": due.current_step.step,
                    "owner": due.current_step.owner,
                    "action": due.current_step.action,
                    "dueOn": due.current_step.due(due.renewal_date).isoformat(),
                    "closesOn": due.current_step.closes(due.renewal_date).isoformat(),
                },
                "nextStep": due.next_step
                and {
                    "step": due.next_step.step,
                    "dueOn": due.next_due and due.next_due.isoformat(),
                },
            }
        )
        assert node["tickets"] == _tickets(lived_in, key)
        assert node["usage"] == _usage(lived_in, key, 30)
    # The demo gives every part something to show.
    assert any(node["health"]["trend"]["change"] for node in nodes)
    assert {len(node["health"]["history"]) for node in nodes} == {1, 2}
    assert any(node["lifecycle"]["milestones"] for node in nodes)
    assert sum(len(node["tasks"]) for node in nodes) == len(list_tasks(lived_in))
    assert sum(node["renewal"] is not None for node in nodes) == len(renewals) > 0
    assert any(ticket["sla"]["escalations"] for node in nodes for ticket in node["tickets"])
    assert any(node["usage"]["events"] for node in nodes)

    # The windows and lengths asked are checked.
    account_id = nodes[0]["id"]
    asked = {
        "health { trend(days: 0) { end } }": "days is from 1 to 3660, not 0",
        "health { history(first: 101) { score } }": "first is from 1 to 100, not 101",
        "renewal(withinDays: -1) { likelihood }": "withinDays is from 0 to 3660, not -1",
        "usage(days: 400) { events }": "days is from 1 to 365, not 400",
    }
    for field, message in asked.items():
        answer = api(f"query($id: ID!) {{ account(id: $id) {{ {field} }} }}", {"id": account_id})
        assert [error["message"] for error in answer["errors"]] == [message]
    usage = api(
        "query($id: ID!) { account(id: $id) { usage(days: 7) { days events } } }",
        {"id": account_id},
    )["data"]["account"]["usage"]
    assert usage["days"] == 7
