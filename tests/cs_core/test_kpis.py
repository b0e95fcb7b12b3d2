"""KPIs against hand computations over a small book of five accounts in 2026-Q3."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from cs_core import (
    AccountRecord,
    AccountRef,
    ContractRecord,
    DailyUsage,
    FeatureUsage,
    InvalidArgumentError,
    OpportunityRecord,
    Period,
    Store,
    SurveyResponseRecord,
    TicketRecord,
    compute_kpis,
    kpis_by,
    portfolio,
    write_daily_usage,
)

from .conftest import account_id, record_health

Q3 = Period.parse("2026-Q3")


def at(day: str, hour: int = 0) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def account(key: str, owner: str, segment: str, seats: int | None = None) -> AccountRecord:
    return AccountRecord(source="crm", external_id=key, name=key, segment=segment,
                         owner=owner, lifecycle_stage="success", licensed_seats=seats)  # fmt: skip


def contract(
    key: str, owner: str, start: str, end: str, arr: int, status: str = "active"
) -> ContractRecord:
    return ContractRecord(source="crm", external_id=key, account_external_id=owner,
                          start_date=date.fromisoformat(start), end_date=date.fromisoformat(end),
                          arr=Decimal(arr), status=status)  # fmt: skip


@pytest.fixture
def book(store: Store) -> Store:
    """A renews on time with more ARR; B churns; C expands by opportunity; D renews five days
    late for less; E starts in the quarter and runs its first workflow ten days in."""
    store.write(
        [
            account("A", "ann", "smb", seats=10), account("B", "ann", "smb"),
            account("C", "bob", "mid_market", seats=20), account("D", "bob", "mid_market"),
            account("E", "ann", "smb"),
            contract("A1", "A", "2025-07-01", "2026-08-01", 1000, "renewed"),
            contract("A2", "A", "2026-08-01", "2027-08-01", 1200),
            contract("B1", "B", "2025-09-01", "2026-09-01", 2000, "expired"),
            contract("C1", "C", "2026-01-01", "2027-01-01", 3000),
            contract("D1", "D", "2025-08-15", "2026-08-15", 4000, "renewed"),
            contract("D2", "D", "2026-08-20", "2027-08-20", 3000),
            contract("E1", "E", "2026-07-10", "2027-07-10", 500),
            OpportunityRecord(source="crm", external_id="O1", account_external_id="C",
                              name="More seats", type="expansion", amount=Decimal(600),
                              stage="Closed Won", close_date=date(2026, 8, 15), outcome="won"),
            OpportunityRecord(source="crm", external_id="O2", account_external_id="C",
                              name="Even more", type="expansion", amount=Decimal(900),
                              stage="Closed Won", close_date=date(2026, 10, 15), outcome="won"),
            *(
                SurveyResponseRecord(source="survey", external_id=f"n{i}", account_source="crm",
                                     account_external_id="A", survey="nps", score=score,
                                     responded_at=at("2026-08-01"))
                for i, score in enumerate([10, 9, 9, 7, 3])
            ),
            *(
                SurveyResponseRecord(source="survey", external_id=f"c{i}", account_source="crm",
                                     account_external_id="C", survey="csat", score=score,
                                     responded_at=at("2026-09-01"))
                for i, score in enumerate([5, 4, 2])
            ),
            SurveyResponseRecord(source="survey", external_id="late", account_source="crm",
                                 account_external_id="C", survey="nps", score=0,
                                 responded_at=at("2026-10-01")),
            TicketRecord(source="desk", external_id="T1", account_source="crm",
                         account_external_id="A", priority="p2", status="solved",
                         opened_at=at("2026-07-02", 9), first_response_at=at("2026-07-02", 11),
                         solved_at=at("2026-07-03", 9), replies=1),
            TicketRecord(source="desk", external_id="T2", account_source="crm",
                         account_external_id="C", priority="p3", status="solved",
                         opened_at=at("2026-08-01"), first_response_at=at("2026-08-01", 10),
                         solved_at=at("2026-08-04"), replies=3),
            TicketRecord(source="desk", external_id="T3", account_source="crm",
                         account_external_id="D", priority="p1", status="open",
                         opened_at=at("2026-09-30", 20), first_response_at=at("2026-09-30", 21)),
        ]
    )  # fmt: skip
    usage = [
        DailyUsage(AccountRef(source="crm", external_id="A"), date(2026, 9, 10), 8, 40),
        DailyUsage(AccountRef(source="crm", external_id="A"), date(2026, 8, 10), 10, 40),
        DailyUsage(AccountRef(source="crm", external_id="C"), date(2026, 9, 29), 25, 90),
        DailyUsage(
            AccountRef(source="crm", external_id="E"), date(2026, 7, 20), 2, 5,
            {"workflow_run": FeatureUsage(events=3, users=1)},
        ),
    ]  # fmt: skip
    with store.transaction() as session:
        write_daily_usage(session, usage)
        ids = {key: account_id(session, key) for key in "ABCD"}
        for key, day, tier in [
            ("A", "2026-08-01", "Green"),
            ("A", "2026-09-01", "Red"),
            ("B", "2026-07-05", "Yellow"),
            ("C", "2026-10-05", "Green"),
        ]:
            record_health(session, ids[key], at(day), tier)  # fmt: skip
        for key, tier in [("A", "Red"), ("C", "Green"), ("D", "Yellow")]:
            record_health(session, ids[key], at("2026-09-30", 12), tier, latest=True)
    return store


def test_revenue_retention_renewals_and_expansion(book: Store) -> None:
    report = compute_kpis(book, Q3)
    # Cohort on July 1st: A 1,000, B 2,000, C 3,000, D 4,000 (E starts later).
    # On September 30th: A 1,200, B 0 (churned), C 3,000, D 3,000 (renewed for less).
    assert (report.starting_accounts, report.starting_arr, report.ending_arr) == (
        4, Decimal(10000), Decimal(7200),
    )  # fmt: skip
    assert (report.churned_accounts, report.churned_arr) == (1, Decimal(2000))
    assert (report.contraction_arr, report.expansion_arr) == (Decimal(1000), Decimal(200))
    assert report.grr == pytest.approx((10000 - 2000 - 1000) / 10000)
    assert report.nrr == pytest.approx(0.72)
    assert report.logo_churn_rate == pytest.approx(1 / 4)
    assert report.revenue_churn_rate == pytest.approx(0.2)
    # Contracts ending in Q3: A1 (renewed on the day), B1 (not), D1 (renewed five days late).
    assert (report.renewals_due, report.renewals_won) == (3, 2)
    assert report.renewal_rate == pytest.approx(2 / 3)
    assert report.on_time_renewal_rate == pytest.approx(1 / 2)
    # One won expansion in Q3 (the October one is outside): C's 600 on 3,000.
    assert report.expansion_rate == pytest.approx(1 / 4)
    assert report.average_expansion == Decimal("600.00")
    assert report.average_expansion_share == pytest.approx(0.2)


def test_adoption_time_to_value_health_voice_and_support(book: Store) -> None:
    report = compute_kpis(book, Q3)
    assert (report.time_to_value_days, report.time_to_value_accounts) == (10.0, 1)
    # Paying accounts with seats on September 30th: A (peak 8 of 10 in the last 30 days) and
    # C (25 active users, capped at its 20 seats).
    assert report.adoption == pytest.approx(28 / 30)
    # Each account's last score before October: A Red, B Yellow, C Green (its October score
    # comes after), D Yellow; E was never scored.
    assert report.health_distribution == {"Red": 1, "Yellow": 2, "Green": 1}
    # NPS 10, 9, 9, 7, 3: three promoters, one detractor; October's 0 is outside.
    assert report.nps == pytest.approx(40.0)
    assert report.nps_responses == 5
    assert report.csat == pytest.approx(2 / 3)
    assert report.csat_responses == 3
    # First responses after 2, 10 and 1 hours; resolutions after 24 and 72 hours.
    assert report.first_response_hours == pytest.approx(2.0)
    assert report.resolution_hours == pytest.approx(48.0)
    assert report.first_contact_resolution == pytest.approx(1 / 2)


def test_kpis_of_one_segment_and_one_owner(book: Store) -> None:
    mid_market = compute_kpis(book, Q3, segment="Mid-Market")
    assert (mid_market.segment, mid_market.starting_arr, mid_market.ending_arr) == (
        "mid_market", Decimal(7000), Decimal(6000),
    )  # fmt: skip
    assert mid_market.grr == pytest.approx(6000 / 7000)
    assert mid_market.nps is None  # no NPS answer from C or D in Q3
    by_owner = kpis_by(book, Q3, "owner")
    assert [(r.owner, r.starting_arr, r.churned_accounts) for r in by_owner] == [
        ("ann", Decimal(3000), 1), ("bob", Decimal(7000), 0),
    ]  # fmt: skip
    assert compute_kpis(book, Q3, owner="nobody").grr is None
    with pytest.raises(InvalidArgumentError, match="by segment or owner, not 'region'"):
        kpis_by(book, Q3, "region")
    assert compute_kpis(book, Q3, owner="nobody").starting_accounts == 0


def test_portfolio_per_csm(book: Store) -> None:
    rows = portfolio(book, as_of=at("2026-09-30", 23))
    assert [(r.owner, r.accounts, r.arr, r.at_risk) for r in rows] == [
        ("ann", 2, Decimal(1700), 1),  # A (Red) and E; B has churned
        ("bob", 2, Decimal(6000), 1),  # C (Green) and D (Yellow)
    ]


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [("2026-Q3", date(2026, 7, 1), date(2026, 10, 1)),
     ("2026q4", date(2026, 10, 1), date(2027, 1, 1)),
     ("2026-02", date(2026, 2, 1), date(2026, 3, 1)), ("2026", date(2026, 1, 1), date(2027, 1, 1)),
     ("2026-07-01..2026-07-31", date(2026, 7, 1), date(2026, 8, 1))],
)  # fmt: skip
def test_periods(text: str, start: date, end: date) -> None:
    period = Period.parse(text)
    assert (period.start, period.end) == (start, end)


@pytest.mark.parametrize(
    ("text", "message"),
    [("last quarter", "is not a period: give 2026-Q3"), ("2026-13", "names no real day"),
     ("2026-07-31..2026-07-01", "ends (2026-07-01) before it starts (2026-07-31)")],
)  # fmt: skip
def test_bad_periods_are_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=re.escape(message)):
        Period.parse(text)


def test_the_previous_quarter() -> None:
    assert Period.previous_quarter(date(2026, 11, 23)).label == "2026-Q3"
    assert Period.previous_quarter(date(2026, 2, 1)).label == "2025-Q4"
