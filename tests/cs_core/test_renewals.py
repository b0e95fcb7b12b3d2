"""Renewals: where each contract is on its track, how likely it is, how good the forecast was."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from cs_core import (
    AccountRecord,
    ContractRecord,
    HealthOverride,
    InvalidArgumentError,
    OpportunityRecord,
    Period,
    Signal,
    Store,
    expansion_pipeline,
    renewal_forecast,
    upcoming_renewals,
)

from .conftest import account_id, record_health

AS_OF = datetime(2026, 6, 1, 12, tzinfo=UTC)


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def contract(key: str, account: str, start: str, end: str, arr: int, track: str) -> ContractRecord:
    return ContractRecord(source="crm", external_id=key, account_external_id=account,
                          start_date=date.fromisoformat(start), end_date=date.fromisoformat(end),
                          arr=Decimal(arr), renewal_track=track)  # fmt: skip


@pytest.fixture
def renewals(store: Store) -> Store:
    """A (Green) and C renew; B (Red, a high signal open) churns; F, unscored, churns; E has a
    Yellow override; D renews next year."""
    store.write(
        [
            *(AccountRecord(source="crm", external_id=key, name=f"Account {key}", segment="smb",
                            owner="ann", lifecycle_stage="renewal") for key in "ABCDEF"),
            contract("A1", "A", "2025-09-01", "2026-09-01", 1000, "standard"),
            contract("A2", "A", "2026-09-01", "2027-09-01", 1000, "standard"),
            contract("B1", "B", "2025-07-01", "2026-07-01", 2000, "at_risk"),
            contract("C1", "C", "2025-08-01", "2026-08-01", 500, "auto"),
            contract("C2", "C", "2026-08-01", "2027-08-01", 500, "auto"),
            contract("D1", "D", "2026-01-01", "2027-01-01", 3000, "complex"),
            contract("E1", "E", "2025-10-01", "2026-10-01", 400, "auto"),
            contract("F1", "F", "2025-09-01", "2026-09-01", 800, "standard"),
            OpportunityRecord(source="crm", external_id="O1", account_external_id="A",
                              name="Seats", type="expansion", amount=Decimal(300),
                              stage="Discovery", close_date=date(2026, 8, 1), outcome="open"),
        ]
    )  # fmt: skip
    with store.transaction() as session:
        ids = {key: account_id(session, key) for key in "ABCDEF"}
        record_health(session, ids["A"], at("2026-05-01"), "Green")
        record_health(session, ids["B"], at("2026-05-01"), "Red")
        record_health(session, ids["B"], at("2026-07-15"), "Green")  # after the forecast
        session.add_all(
            [
                Signal(account_id=ids["B"], kind="usage_drop", severity="high", evidence={},
                       first_seen_at=at("2026-05-15"), last_seen_at=at("2026-05-30")),
                Signal(account_id=ids["B"], kind="no_activity", severity="high", evidence={},
                       first_seen_at=at("2026-03-01"), last_seen_at=at("2026-03-20"),
                       resolved_at=at("2026-04-01")),
                Signal(account_id=ids["F"], kind="entitlement_near_limit", severity="opportunity",
                       evidence={}, first_seen_at=at("2026-05-20"), last_seen_at=at("2026-05-30")),
                HealthOverride(account_id=ids["E"], scorecard_id="sop", computed_score=None,
                               score=70.0, tier="Yellow", reason="Exec sponsor left",
                               author="ann", created_at=at("2026-05-01")),
            ]
        )  # fmt: skip
    return store


def test_upcoming_renewals_with_their_steps_and_likelihood(renewals: Store) -> None:
    found = upcoming_renewals(renewals, within_days=180, as_of=AS_OF)
    summary = [
        (r.account, r.renewal_date, r.days_to_renewal, r.track.value, r.tier, r.likelihood,
         r.expected_arr, r.current_step and r.current_step.step, r.next_step and r.next_step.step,
         r.next_due)
        for r in found
    ]  # fmt: skip
    assert summary == [
        # At risk, Red (0.40) less one open high signal (0.10); its close step was due today.
        ("crm:B", date(2026, 7, 1), 30, "at_risk", "Red", 0.30, Decimal("600.00"), "close",
         "post_renewal", date(2026, 7, 2)),
        # Unscored (0.70); pricing review was due 120 days before, the proposal is due at 90.
        ("crm:F", date(2026, 9, 1), 92, "standard", None, 0.70, Decimal("560.00"),
         "pricing_review", "proposal", date(2026, 6, 3)),
        # The Yellow override counts (0.75); the expansion signal is no risk.
        ("crm:E", date(2026, 10, 1), 122, "auto", "Yellow", 0.75, Decimal("300.00"),
         "health_check", "notice", date(2026, 7, 3)),
    ]  # fmt: skip
    assert found[0].open_signals == {"high": 1}
    later = upcoming_renewals(renewals, within_days=240, as_of=AS_OF)
    assert [r.account for r in later] == ["crm:B", "crm:F", "crm:E", "crm:D"]
    # 214 days out, the complex track (opening at 240 days) is at its forecast step.
    complex_renewal = later[-1]
    assert complex_renewal.current_step is not None
    assert complex_renewal.current_step.step == "forecast"
    assert complex_renewal.next_due == date(2026, 6, 5)


def test_upcoming_renewals_of_some_accounts_are_theirs_in_the_whole_list(renewals: Store) -> None:
    everyone = upcoming_renewals(renewals, within_days=240, as_of=AS_OF)
    with renewals.transaction() as session:
        chosen = {account_id(session, "B"), account_id(session, "E"), account_id(session, "A")}
    some = upcoming_renewals(renewals, within_days=240, as_of=AS_OF, account_ids=chosen)
    assert [r.account for r in some] == ["crm:B", "crm:E"]
    assert some == [r for r in everyone if r.account_id in chosen]


def test_a_forecast_made_in_the_past_is_measured_against_what_renewed(renewals: Store) -> None:
    forecast = renewal_forecast(renewals, Period.parse("2026-Q3"), as_of=AS_OF)
    # A 1,000 x 0.95 + B 2,000 x 0.30 + C 500 x 0.70 + F 800 x 0.70 (E renews in October).
    assert (forecast.contracts, forecast.arr, forecast.expected_arr) == (
        4, Decimal(4300), Decimal("2460.00"),
    )  # fmt: skip
    assert {tier: (t.contracts, t.arr, t.expected_arr) for tier, t in forecast.by_tier.items()} == {
        "Green": (1, Decimal(1000), Decimal("950.00")),
        "Red": (1, Decimal(2000), Decimal("600.00")),
        "unscored": (2, Decimal(1300), Decimal("910.00")),
    }  # fmt: skip
    # A and C renewed: 1,500 against 2,460 expected.
    assert (forecast.renewed, forecast.actual_arr) == (2, Decimal(1500))
    assert forecast.accuracy == pytest.approx(1 - 960 / 1500)


def test_a_forecast_of_an_open_period_has_no_outcome_yet(renewals: Store) -> None:
    forecast = renewal_forecast(renewals, Period.parse("2099-Q1"), as_of=AS_OF)
    assert (forecast.contracts, forecast.actual_arr, forecast.accuracy) == (0, None, None)


def test_the_expansion_pipeline(renewals: Store) -> None:
    leads = expansion_pipeline(renewals, as_of=AS_OF)
    found = [(lead.account, lead.open_opportunities, lead.pipeline, lead.signals) for lead in leads]
    assert found == [
        ("crm:A", 1, Decimal(300), ()),
        ("crm:F", 0, Decimal(0), ("entitlement_near_limit",)),
    ]  # fmt: skip


def test_a_negative_window_is_refused(renewals: Store) -> None:
    with pytest.raises(InvalidArgumentError, match="within_days must not be negative, not -1"):
        upcoming_renewals(renewals, within_days=-1)
