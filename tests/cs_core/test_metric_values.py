"""Metrics computed from the store by hand-checkable data, on both dialects."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from cs_core import (
    AccountRecord,
    AccountRef,
    ContactRecord,
    DailyUsage,
    FeatureUsage,
    OpportunityRecord,
    Store,
    SurveyResponseRecord,
    TicketRecord,
    write_daily_usage,
)
from cs_core._metric_values import AccountRange, compute_metrics

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
TODAY = AS_OF.date()
REF = AccountRef(source="crm", external_id="A")


def day(ago: int) -> date:
    return TODAY - timedelta(days=ago)


def at(ago_days: float) -> datetime:
    return AS_OF - timedelta(days=ago_days)


@pytest.fixture
def metrics(store: Store) -> dict[str, float | None]:
    store.write(
        [
            AccountRecord(
                source="crm",
                external_id="A",
                name="A",
                segment="smb",
                licensed_seats=20,
                renewal_date=day(-45),
                contract_start=day(400),
            ),
            AccountRecord(source="crm", external_id="quiet", name="Quiet", segment="plg"),
            ContactRecord(
                source="crm",
                external_id="c1",
                account_external_id="A",
                email="a@a.example.com",
                is_champion=True,
            ),
            ContactRecord(
                source="crm",
                external_id="c2",
                account_external_id="A",
                email="b@a.example.com",
                is_executive_sponsor=True,
                last_engaged_at=at(100),  # too long ago to count
            ),
            OpportunityRecord(
                source="crm",
                external_id="o1",
                account_external_id="A",
                name="Expansion",
                type="expansion",
                amount=Decimal(10),
                stage="Won",
                close_date=day(61),
                outcome="won",
            ),
            OpportunityRecord(
                source="crm",
                external_id="o2",
                account_external_id="A",
                name="Later",
                type="expansion",
                amount=Decimal(10),
                stage="Won",
                close_date=day(-5),
                outcome="won",  # closes after the as-of day: does not count
            ),
            # Opened 10 days ago, answered after 2 hours: P2 answers within 4h, solves in 24h,
            # still open after 10 days -> breached resolution.
            TicketRecord(
                source="crm",
                external_id="t1",
                account_external_id="A",
                priority="p2",
                status="open",
                opened_at=at(10),
                first_response_at=at(10) + timedelta(hours=2),
            ),
            TicketRecord(
                source="crm",
                external_id="t2",
                account_external_id="A",
                priority="p4",
                status="solved",
                opened_at=at(40),
                first_response_at=at(40) + timedelta(hours=1),
                solved_at=at(39),
            ),
            TicketRecord(
                source="crm",
                external_id="t3",
                account_external_id="A",
                priority="p1",
                status="solved",
                opened_at=at(200),
                solved_at=at(199),  # outside 90 days
            ),
            TicketRecord(
                source="crm",
                external_id="t4",
                account_external_id="A",
                priority="p3",
                status="open",
                opened_at=at(-1),  # after the as-of time: ignored
            ),
            SurveyResponseRecord(
                source="crm",
                external_id="n1",
                account_external_id="A",
                survey="nps",
                score=9,
                responded_at=at(10),
            ),
            SurveyResponseRecord(
                source="crm",
                external_id="n2",
                account_external_id="A",
                survey="nps",
                score=6,
                responded_at=at(100),
            ),
            SurveyResponseRecord(
                source="crm",
                external_id="n3",
                account_external_id="A",
                survey="nps",
                score=0,
                responded_at=at(300),  # older than 180 days
            ),
            SurveyResponseRecord(
                source="crm",
                external_id="s1",
                account_external_id="A",
                survey="csat",
                score=4,
                responded_at=at(5),
            ),
        ]
    )
    usage = [
        # The last 30 days: 10 active users on each day but the busiest (16), 100 events a day.
        DailyUsage(
            account=REF,
            day=day(ago),
            active_users=16 if ago == 3 else 10,
            events=100,
            features={
                "report_created": FeatureUsage(events=60, users=5),
                **({"workflow_run": FeatureUsage(events=40, users=2)} if ago in (1, 2, 9) else {}),
            },
        )
        for ago in range(2, 31)
    ] + [
        # The 30 days before: 80 events a day, another feature used once.
        DailyUsage(
            account=REF,
            day=day(ago),
            active_users=8,
            events=80,
            features={"dashboard_viewed": FeatureUsage(events=80, users=8)},
        )
        for ago in range(31, 61)
    ]
    with store.transaction() as session:
        write_daily_usage(session, usage)
        computed = compute_metrics(session, AccountRange(1, 2), AS_OF)
    assert computed[2] == {
        "champion_present": 0.0,
        "champions_left": 0.0,
        "executive_sponsor_engaged": 0.0,
        "tickets_per_month": 0.0,
        "tickets_last_30_days": 0.0,
        "ticket_spike_ratio": None,
        "open_p1_p2_tickets": 0.0,
        "sla_breaches": 0.0,
        "days_to_renewal": None,
        "months_since_last_expansion": None,
        "days_since_last_activity": None,
    }
    return computed[1]


def test_usage_metrics(metrics: dict[str, float | None]) -> None:
    assert metrics["active_user_ratio"] == 16 / 20
    # 29 days with rows in the last 30: 28 days of 10 users and one of 16.
    assert metrics["dau_mau"] == pytest.approx((28 * 10 + 16) / 30 / 16)
    assert metrics["usage_trend"] == pytest.approx(29 * 100 / (30 * 80) - 1)
    assert metrics["usage_change_90d"] is None  # nothing 61-90 days ago
    assert metrics["days_since_last_activity"] == 2
    # Two of the three features seen in the last 90 days were used in the last 30.
    assert metrics["feature_adoption"] == pytest.approx(2 / 3)
    assert metrics["workflows_running"] == 1  # day 2 (day 1 has no row; day 9 is too old)


def test_support_metrics(metrics: dict[str, float | None]) -> None:
    assert metrics["tickets_per_month"] == pytest.approx(2 / 3)
    assert metrics["open_p1_p2_tickets"] == 1
    assert metrics["sla_breaches"] == 1
    assert metrics["tickets_last_30_days"] == 1
    assert metrics["ticket_spike_ratio"] == pytest.approx(1 / (1 / 3))  # t2, 40 days ago


def test_survey_metrics(metrics: dict[str, float | None]) -> None:
    assert metrics["nps"] == pytest.approx(7.5)
    assert metrics["latest_nps"] == 9
    assert metrics["csat"] == pytest.approx(8)


def test_relationship_and_commercial_metrics(metrics: dict[str, float | None]) -> None:
    assert metrics["champion_present"] == 1
    assert metrics["executive_sponsor_engaged"] == 0
    assert metrics["champions_left"] == 0
    assert metrics["days_to_renewal"] == 45
    assert metrics["months_since_last_expansion"] == pytest.approx(61 / 30.4375)


def test_as_of_must_be_aware(store: Store) -> None:
    with (
        store.transaction() as session,
        pytest.raises(ValueError, match=r"as_of 2026-01-01T00:00:00 has no timezone"),
    ):
        compute_metrics(session, AccountRange(1, 1), datetime(2026, 1, 1))  # noqa: DTZ001
