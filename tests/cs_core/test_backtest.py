"""Backtests find the signal when churn follows health, and none when churn is random."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import pytest

from cs_core import (
    CSError,
    Store,
    backtest,
    builtin_scorecards,
    roc_auc,
)

TODAY = datetime.now(UTC).date()
OBSERVED = TODAY - timedelta(days=120)  # the churn_history fixture's observation day
Fill = Callable[[Sequence[float], Sequence[bool]], None]
SOP = builtin_scorecards()["sop"]


def test_auc_is_high_when_churn_follows_low_usage(store: Store, churn_history: Fill) -> None:
    rng = random.Random(7)
    adoption = [rng.uniform(0.1, 0.95) for _ in range(150)]
    churn_history(adoption, [share < 0.4 for share in adoption])
    report = backtest(store, SOP, horizon_days=90, observation_dates=[OBSERVED, OBSERVED])
    assert report.observation_dates == (OBSERVED,)  # a day given twice is observed once
    assert report.observations == 150
    assert report.churned == sum(share < 0.4 for share in adoption)
    assert report.auc is not None
    assert report.auc > 0.8
    worst = report.worst_tier
    assert worst is not None
    assert worst.churn_rate > report.churn_rate
    assert report.lift is not None
    assert report.lift > 1.5


def test_auc_is_about_a_half_when_churn_is_random(store: Store, churn_history: Fill) -> None:
    rng = random.Random(11)
    adoption = [rng.uniform(0.1, 0.95) for _ in range(400)]
    churn_history(adoption, [rng.random() < 0.3 for _ in adoption])
    report = backtest(store, SOP, horizon_days=90, observation_dates=[OBSERVED])
    assert report.auc is not None
    assert 0.4 < report.auc < 0.6


def test_accounts_that_already_churned_are_not_observed(store: Store, churn_history: Fill) -> None:
    churn_history([0.2, 0.9], [True, False])
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
