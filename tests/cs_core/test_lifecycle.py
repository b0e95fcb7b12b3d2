"""Lifecycle: stages decided from the data, onboarding milestones tracked, news announced once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from cs_core import (
    LIFECYCLE_STAGE_CHANGED,
    MILESTONE_COMPLETED,
    MILESTONE_OVERDUE,
    AccountFacts,
    AccountLifecycle,
    AccountRecord,
    AccountRef,
    ContractRecord,
    ContractStatus,
    DailyUsage,
    FeatureUsage,
    HealthScoreRow,
    LifecycleStage,
    MilestoneRecord,
    MilestoneStatus,
    OnboardingMilestone,
    OpportunityRecord,
    Segment,
    Store,
    decide_stage,
    load_policies,
    read_events,
    score_all,
    time_to_value_by_segment,
    update_lifecycle,
    write_daily_usage,
)
from cs_core._book import ContractTerm

from .conftest import account_id, record_health

POLICIES = load_policies()
TODAY = date(2026, 10, 20)


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def term(start: str, end: str, contract_id: int = 1) -> ContractTerm:
    return ContractTerm(contract_id, 1, date.fromisoformat(start), date.fromisoformat(end),
                        Decimal(1000), ContractStatus.ACTIVE)  # fmt: skip


def facts(*terms: ContractTerm, **changes: object) -> AccountFacts:
    values: dict[str, object] = {"since": date(2024, 1, 1), "terms": terms, "handoff": None,
                                 "tracked": False}  # fmt: skip
    return AccountFacts(**(values | changes))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("account", "stage", "reason"),
    [
        (facts(term("2025-01-01", "2026-09-01")), "churned",
         "last contract ended 2026-09-01 unrenewed"),
        (facts(term("2025-01-01", "2026-10-01")), "renewal",
         "contract ended 2026-10-01, renewal overdue"),
        (facts(term("2025-11-01", "2026-12-01")), "renewal", "contract ends 2026-12-01"),
        (facts(term("2025-11-01", "2026-12-01"), term("2026-12-01", "2027-12-01", 2)), "success",
         "in force, adopted, no renewal or expansion in sight"),
        (facts(term("2026-10-01", "2027-10-01"), since=date(2026, 10, 1), tracked=True),
         "onboarding", "customer since 2026-10-01, handoff not reached"),
        (facts(term("2026-09-01", "2027-09-01"), handoff=at(date(2026, 10, 1))), "adoption",
         "handed off 2026-10-01, adoption not met"),
        (facts(term("2026-09-01", "2027-09-01"), handoff=at(date(2026, 10, 1)),
               active_user_ratio=0.85, workflows_running=4.0), "success",
         "in force, adopted, no renewal or expansion in sight"),
        (facts(term("2026-01-01", "2027-09-01"), expansion="open expansion opportunity"),
         "expansion", "open expansion opportunity"),
    ],
)  # fmt: skip
def test_stages_follow_the_rules_in_order(account: AccountFacts, stage: str, reason: str) -> None:
    assert decide_stage(account, TODAY, POLICIES) == (LifecycleStage(stage), reason)


def test_an_account_without_contracts_or_deals_has_no_stage() -> None:
    assert decide_stage(facts(since=None), TODAY, POLICIES) is None


def _customer(store: Store, since: date) -> int:
    """An SMB customer since ``since`` whose kickoff is recorded, whose usage starts the next day
    and whose first workflow runs on day 4; its training is not recorded."""
    ref = AccountRef(source="crm", external_id="A")
    store.write(
        [
            AccountRecord(source="crm", external_id="A", name="A", segment="smb",
                          lifecycle_stage="success", licensed_seats=10),
            ContractRecord(source="crm", external_id="K", account_external_id="A",
                           start_date=since, end_date=since + timedelta(days=365),
                           arr=Decimal(1000)),
            MilestoneRecord(source="crm", external_id="M1", account_external_id="A",
                            milestone="kickoff", completed_at=at(since)),
        ]
    )  # fmt: skip
    usage = [
        DailyUsage(ref, since + timedelta(days=day), 3, 10,
                   {"workflow_run": FeatureUsage(events=2, users=1)} if day >= 4 else {})
        for day in range(1, 19)
    ]  # fmt: skip
    with store.transaction() as session:
        write_daily_usage(session, usage)
        return account_id(session, "A")


def test_onboarding_milestones_reached_detected_and_overdue(store: Store) -> None:
    since = date(2026, 10, 1)
    account = _customer(store, since)
    report = update_lifecycle(store, as_of=at(TODAY))
    assert (report.accounts, report.stages, report.at_risk) == (1, {"onboarding": 1}, 1)
    assert (report.milestones_completed, report.milestones_overdue) == (3, 2)
    with store.transaction() as session:
        statuses = {
            row.milestone.value: (row.due_on.day, row.completed_at and row.completed_at.day,
                                  row.evidence, row.overdue_since and row.overdue_since.day)
            for row in session.scalars(select(MilestoneStatus))
        }  # fmt: skip
        events = [(e.type, e.payload.get("milestone")) for e in read_events(session, after=0)]
        evaluated = session.get(AccountLifecycle, account)
    # The SMB track: kickoff day 1, technical setup 3, first value 7, training 10, handoff 14.
    assert statuses == {
        "kickoff": (2, 1, "recorded by crm", None),
        "technical_setup": (4, 2, "first day of usage", None),
        "first_value": (8, 5, "first workflow run", None),
        "training": (11, None, None, 12),
        "handoff": (15, None, None, 16),
    }
    assert evaluated is not None
    assert (evaluated.stage, evaluated.time_to_value_days, evaluated.at_risk) == (
        LifecycleStage.ONBOARDING, 4, True,
    )  # fmt: skip
    assert sorted(events, key=str) == sorted(
        [(LIFECYCLE_STAGE_CHANGED, None), (MILESTONE_COMPLETED, "kickoff"),
         (MILESTONE_COMPLETED, "technical_setup"), (MILESTONE_COMPLETED, "first_value"),
         (MILESTONE_OVERDUE, "training"), (MILESTONE_OVERDUE, "handoff")], key=str,
    )  # fmt: skip

    again = update_lifecycle(store, as_of=at(TODAY))
    assert (again.changed, again.milestones_completed, again.milestones_overdue, again.events) == (
        0, 0, 0, 0,
    )  # fmt: skip

    # Training recorded late, and a first score as baseline: the handoff follows, and adoption.
    late = at(date(2026, 10, 21))
    training = MilestoneRecord(source="crm", external_id="M2", account_external_id="A",
                               milestone="training", completed_at=late)  # fmt: skip
    store.write([training])
    with store.transaction() as session:
        record_health(session, account, late, "Green")
    later = update_lifecycle(store, as_of=at(date(2026, 10, 22)))
    assert (later.stages, later.changed, later.milestones_completed, later.at_risk) == (
        {"adoption": 1}, 1, 2, 0,
    )  # fmt: skip
    with store.transaction() as session:
        handoff = session.get(MilestoneStatus, (account, OnboardingMilestone.HANDOFF))
        changes = [
            e.payload for e in read_events(session, after=0, types=[LIFECYCLE_STAGE_CHANGED])
        ]
    assert handoff is not None
    assert handoff.evidence == "all milestones with a health score"
    assert handoff.overdue_since == date(2026, 10, 16)  # kept: it was late
    assert [(c["previous"], c["current"]) for c in changes] == [
        (None, "onboarding"), ("onboarding", "adoption"),
    ]  # fmt: skip
    assert time_to_value_by_segment(store)[Segment.SMB].median_days == 4.0


def test_scoring_follows_the_evaluated_stage(store: Store) -> None:
    _customer(store, date(2026, 10, 1))
    update_lifecycle(store, as_of=at(TODAY))
    score_all(store, as_of=at(TODAY))
    with store.transaction() as session:
        # The source says "success", the data says onboarding: the onboarding scorecard judges.
        assert session.scalars(select(HealthScoreRow.scorecard_id)).all() == ["onboarding"]


def test_churn_and_expansion_from_the_data(store: Store) -> None:
    store.write(
        [
            AccountRecord(source="crm", external_id="gone", name="Gone", segment="smb",
                          lifecycle_stage="success"),
            ContractRecord(source="crm", external_id="K1", account_external_id="gone",
                           start_date=date(2025, 9, 1), end_date=date(2026, 9, 1),
                           arr=Decimal(500), status="expired"),
            AccountRecord(source="crm", external_id="grow", name="Grow", segment="enterprise",
                          lifecycle_stage="success"),
            ContractRecord(source="crm", external_id="K2", account_external_id="grow",
                           start_date=date(2024, 1, 1), end_date=date(2027, 6, 1),
                           arr=Decimal(9000)),
            OpportunityRecord(source="crm", external_id="O", account_external_id="grow",
                              name="More", type="expansion", amount=Decimal(1000),
                              stage="Discovery", close_date=date(2026, 12, 1), outcome="open"),
        ]
    )  # fmt: skip
    assert update_lifecycle(store, as_of=at(date(2026, 9, 15))).stages == {
        "renewal": 1, "expansion": 1,
    }  # fmt: skip
    assert update_lifecycle(store, as_of=at(TODAY)).stages == {"churned": 1, "expansion": 1}


def test_an_empty_store_evaluates_nothing(store: Store) -> None:
    assert update_lifecycle(store, as_of=at(TODAY)).accounts == 0
