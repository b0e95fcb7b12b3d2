"""The churn-risk model: fitted on history, calibrated, stored, and readable as a metric."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from cs_core import (
    CSError,
    HealthScoreRow,
    Scorecard,
    ScorecardRule,
    ScorecardRules,
    Store,
    fit_churn_model,
    latest_churn_model,
    save_churn_model,
    score_all,
)

TODAY = datetime.now(UTC).date()
OBSERVED = TODAY - timedelta(days=120)  # the churn_history fixture's observation day
Fill = Callable[[Sequence[float], Sequence[bool]], None]
FEATURES = ("active_user_ratio", "nps")
RISK_CARD = """
id = "risk"
version = 1
name = "Churn risk"
tiers = [{ name = "Safe", min = 50 }, { name = "At risk", min = 0 }]

[[dimensions]]
name = "Risk"
weight = 100

  [[dimensions.measures]]
  name = "churn_risk"
  metric = "churn_risk"
  weight = 100
  scale = { kind = "linear", worst = 1, best = 0 }
"""


@pytest.fixture
def history(store: Store, churn_history: Fill) -> Store:
    rng = random.Random(3)
    adoption = [rng.uniform(0.05, 0.95) for _ in range(300)]
    # Churn is likelier the lower the adoption, but not certain either way.
    churns = [rng.random() < 0.9 - share for share in adoption]
    churn_history(adoption, churns)
    return store


def test_the_model_learns_that_low_adoption_churns(history: Store) -> None:
    model = fit_churn_model(
        history, features=FEATURES, horizon_days=90, observation_dates=[OBSERVED]
    )
    assert model.observations == 300
    assert model.coefficients[0] < 0  # more adoption, less churn
    assert model.auc is not None
    assert model.auc > 0.7
    assert sum(part.count for part in model.calibration) == 300
    low, high = model.calibration[0], model.calibration[-1]
    assert low.predicted < high.predicted
    assert low.observed < high.observed
    # Calibrated: over all observations, predicted churn matches the churn that happened.
    predicted = sum(part.predicted * part.count for part in model.calibration) / 300
    assert predicted == pytest.approx(model.churned / 300, abs=0.01)
    assert 0 < model.brier < 0.25
    assert model.probability({"active_user_ratio": 0.1}) > model.probability(
        {"active_user_ratio": 0.9}
    )
    # A missing feature takes the mean: it moves the prediction nowhere.
    assert model.probability({}) == pytest.approx(1 / (1 + 2.718281828459045**-model.intercept))


def test_a_stored_model_gives_the_churn_risk_metric(history: Store) -> None:
    model = fit_churn_model(
        history, features=FEATURES, horizon_days=90, observation_dates=[OBSERVED]
    )
    with history.transaction() as session:
        assert latest_churn_model(session) is None
        save_churn_model(session, model)
        assert latest_churn_model(session) == model
    score_all(
        history,
        as_of=datetime(OBSERVED.year, OBSERVED.month, OBSERVED.day, tzinfo=UTC),
        scorecards={"risk": Scorecard.from_toml(RISK_CARD)},
        rules=ScorecardRules(rules=(ScorecardRule(scorecard="risk"),)),
    )
    with history.transaction() as session:
        rows = {row.account_id: row for row in session.scalars(select(HealthScoreRow))}
    risk = {account_id: row.measures["churn_risk"][0] for account_id, row in rows.items()}
    assert all(0 < value < 1 for value in risk.values())
    # The account with the least adoption carries the most risk and the lowest score.
    riskiest = max(risk, key=lambda account_id: risk[account_id])
    assert rows[riskiest].score == min(row.score or 0 for row in rows.values())


def test_fitting_needs_both_outcomes_and_computed_features(
    store: Store, churn_history: Fill
) -> None:
    churn_history([0.5, 0.6], [False, False])
    with pytest.raises(CSError, match="needs churners and non-churners"):
        fit_churn_model(store, features=FEATURES, observation_dates=[OBSERVED])
    with pytest.raises(CSError, match="cannot fit on qbr_attended"):
        fit_churn_model(store, features=("qbr_attended",), observation_dates=[OBSERVED])
