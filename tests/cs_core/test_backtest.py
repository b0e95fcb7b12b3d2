"""Backtests find the signal when churn follows health, and none when churn is random."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from cs_core import (
    AccountRecord,
    AccountRef,
    ContractRecord,
    CSError,
    DailyUsage,
    Record,
    Store,
    backtest,
    builtin_scorecards,
    roc_auc,
    write_daily_usage,
)

TODAY = datetime.now(UTC).date()
OBSERVED = TODAY - timedelta(days=120)
SOP = builtin_scorecards()["sop"]


def fill(store: Store, churns: list[bool], adoption: list[float]) -> None:
    """Accounts with 20 seats, ``adoption`` of them active daily before the observation date;
    those that churn see their contract expire 30 days after it, unrenewed."""
    records: list[Record] = []
    usage: list[DailyUsage] = []
    for index, (churned, share) in enumerate(zip(churns, adoption, strict=True)):
        external_id = f"A{index}"
        records.append(
            AccountRecord(
                source="crm", external_id=external_id, name=external_id, segment="smb",
                lifecycle_stage="success", licensed_seats=20,
            )
        )  # fmt: skip
        end = OBSERVED + timedelta(days=30) if churned else TODAY + timedelta(days=200)
        records.append(
            ContractRecord(
                source="crm", external_id=f"K{index}", account_external_id=external_id,
                start_date=end - timedelta(days=365), end_date=end, arr=Decimal(1000),
                status="expired" if churned else "active",
            )
        )  # fmt: skip
        usage += [
            DailyUsage(
                account=AccountRef(source="crm", external_id=external_id),
                day=OBSERVED - timedelta(days=ago),
                active_users=round(20 * share),
                events=100,
            )
            for ago in range(1, 31)
        ]
    store.write(records)
    with store.transaction() as session:
        write_daily_usage(session, usage)


def test_auc_is_high_when_churn_follows_low_usage(store: Store) -> None:
    rng = random.Random(7)
    adoption = [rng.uniform(0.1, 0.95) for _ in range(150)]
    fill(store, [share < 0.4 for share in adoption], adoption)
    report = backtest(store, SOP, horizon_days=90, observation_dates=[OBSERVED])
    assert report.observations == 150
    assert report.churned == sum(share < 0.4 for share in adoption)
    assert report.auc is not None
    assert report.auc > 0.8
    worst = report.worst_tier
    assert worst is not None
    assert worst.churn_rate > report.churn_rate
    assert report.lift is not None
    assert report.lift > 1.5


def test_auc_is_about_a_half_when_churn_is_random(store: Store) -> None:
    rng = random.Random(11)
    adoption = [rng.uniform(0.1, 0.95) for _ in range(400)]
    fill(store, [rng.random() < 0.3 for _ in adoption], adoption)
    report = backtest(store, SOP, horizon_days=90, observation_dates=[OBSERVED])
    assert report.auc is not None
    assert 0.4 < report.auc < 0.6


def test_accounts_that_already_churned_are_not_observed(store: Store) -> None:
    fill(store, [True, False], [0.2, 0.9])
    later = OBSERVED + timedelta(days=31)  # after the first account's contract ended
    report = backtest(store, SOP, horizon_days=60, observation_dates=[later])
    assert (report.observations, report.churned, report.auc) == (1, 0, None)


def test_a_horizon_that_has_not_passed_is_refused(store: Store) -> None:
    with pytest.raises(CSError, match="too recent"):
        backtest(store, SOP, horizon_days=90, observation_dates=[TODAY - timedelta(days=30)])
    with pytest.raises(CSError, match="at least 1 day"):
        backtest(store, SOP, horizon_days=0)


@pytest.mark.parametrize(
    ("scores", "churned", "auc"),
    [
        ([10, 20, 80, 90], [True, True, False, False], 1.0),
        ([10, 20, 80, 90], [False, False, True, True], 0.0),
        ([50, 50, 50, 50], [True, False, True, False], 0.5),
        ([10, 50, 50, 90], [True, True, False, False], 0.875),
        ([10, 20], [True, True], None),
    ],
)
def test_roc_auc_by_hand(scores: list[float], churned: list[bool], auc: float | None) -> None:
    assert roc_auc(scores, churned) == auc
