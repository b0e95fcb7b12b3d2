"""A churn-risk model: logistic regression on the store's history, usable as a metric.

Fitting reuses the backtest's observations: every account at past observation days, its metrics
then, and whether it churned within the horizon. Features are standardised (missing values take
the feature's mean, so that they pull the prediction nowhere), and the coefficients are fitted
by iteratively reweighted least squares with a small ridge penalty. Logistic regression fits
probabilities by maximum likelihood, so on the data it was fitted on its probabilities are
calibrated; the fit reports a reliability table, the Brier score and the ROC AUC to show it.

The newest fitted model stored provides the ``churn_risk`` metric (a probability, lower is
healthier) that any scorecard measure can read.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from cs_core._backtest import observation_days, observe, roc_auc
from cs_core._errors import CSError
from cs_core._markers import RegisterMetric, hookimpl
from cs_core._metric_registry import MetricRegistry, installed_metrics
from cs_core._metric_values import AccountRange, MetricValues, compute_metrics
from cs_core._metrics import BUILTIN_METRICS
from cs_core._store import Store
from cs_core._tables import ChurnModelRow
from cs_core._types import utc_moment

__all__ = [
    "DEFAULT_CHURN_FEATURES",
    "CalibrationBin",
    "ChurnModel",
    "fit_churn_model",
    "latest_churn_model",
    "save_churn_model",
]

DEFAULT_CHURN_FEATURES = (
    "active_user_ratio",
    "dau_mau",
    "feature_adoption",
    "usage_trend",
    "days_since_last_activity",
    "tickets_per_month",
    "open_p1_p2_tickets",
    "nps",
    "champion_present",
    "executive_sponsor_engaged",
)
_RIDGE = 1.0
_MAX_ITERATIONS = 50


@dataclass(frozen=True, slots=True)
class CalibrationBin:
    """Observations whose predicted risk fell in one tenth of the predictions."""

    predicted: float
    """Mean predicted probability of churn."""
    observed: float
    """Share that did churn."""
    count: int


@dataclass(frozen=True, slots=True)
class ChurnModel:
    """Fitted coefficients over standardised features, and how well they fitted."""

    features: tuple[str, ...]
    means: tuple[float, ...]
    scales: tuple[float, ...]
    intercept: float
    coefficients: tuple[float, ...]
    horizon_days: int
    observations: int
    churned: int
    auc: float | None
    brier: float
    calibration: tuple[CalibrationBin, ...]

    def probability(self, values: Mapping[str, float | None]) -> float:
        """The probability of churn within the horizon for an account with these metrics."""
        total = self.intercept
        for name, mean, scale, weight in zip(
            self.features, self.means, self.scales, self.coefficients, strict=True
        ):
            value = values.get(name)
            if value is not None and math.isfinite(value):
                total += weight * (value - mean) / scale
        return 1 / (1 + math.exp(-total))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChurnModel:
        fields = dict(data)
        fields["calibration"] = tuple(CalibrationBin(**b) for b in fields["calibration"])
        for name in ("features", "means", "scales", "coefficients"):
            fields[name] = tuple(fields[name])
        return cls(**fields)


def fit_churn_model(
    store: Store,
    *,
    features: Sequence[str] = DEFAULT_CHURN_FEATURES,
    horizon_days: int = 90,
    observation_dates: Sequence[date] | None = None,
    metrics: MetricRegistry | None = None,
) -> ChurnModel:
    """Fit a churn-risk model on the accounts observed at past days (see :func:`backtest`)."""
    registry = metrics or installed_metrics()
    unknown = sorted(set(features) - set(registry.providers))
    if unknown or not features:
        raise CSError(
            f"cannot fit on {', '.join(unknown) or 'no features'}: choose among the computed "
            f"metrics {', '.join(sorted(registry.providers))}"
        )
    names = tuple(dict.fromkeys(features))
    rows: list[list[float]] = []
    labels: list[float] = []
    for observation in observe(
        store,
        observation_days(horizon_days, observation_dates),
        horizon_days,
        registry.providers_for(frozenset(names)),
    ):
        rows.append([_number(observation.values.get(name)) for name in names])
        labels.append(1.0 if observation.churned else 0.0)
    y = np.array(labels)
    if len(y) < 2 or y.min() == y.max():
        raise CSError(
            f"cannot fit a churn model on {len(y)} observations "
            f"with {int(y.sum())} churned: it needs churners and non-churners"
        )
    raw = np.array(rows)
    present = (~np.isnan(raw)).sum(axis=0)
    means = np.where(present > 0, np.nansum(raw, axis=0) / np.maximum(present, 1), 0.0)
    filled = np.where(np.isnan(raw), means, raw)
    scales = filled.std(axis=0)
    scales = np.where(scales > 0, scales, 1.0)
    x = np.column_stack([np.ones(len(y)), (filled - means) / scales])
    weights = _irls(x, y)
    predicted = 1 / (1 + np.exp(-(x @ weights)))
    return ChurnModel(
        features=names,
        means=tuple(float(m) for m in means),
        scales=tuple(float(s) for s in scales),
        intercept=float(weights[0]),
        coefficients=tuple(float(w) for w in weights[1:]),
        horizon_days=horizon_days,
        observations=len(y),
        churned=int(y.sum()),
        auc=roc_auc([-float(p) for p in predicted], [bool(v) for v in y]),
        brier=float(np.mean((predicted - y) ** 2)),
        calibration=_calibration(predicted, y),
    )


def _number(value: float | None) -> float:
    return math.nan if value is None or not math.isfinite(value) else float(value)


def _irls(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Logistic regression by Newton's method, with a ridge penalty on all but the intercept."""
    weights = np.zeros(x.shape[1])
    penalty = np.eye(x.shape[1]) * _RIDGE
    penalty[0, 0] = 0.0
    for _ in range(_MAX_ITERATIONS):
        predicted = 1 / (1 + np.exp(-(x @ weights)))
        gradient = x.T @ (y - predicted) - penalty @ weights
        hessian = (x.T * (predicted * (1 - predicted))) @ x + penalty
        step = np.linalg.solve(hessian, gradient)
        weights = weights + step
        if np.max(np.abs(step)) < 1e-9:
            break
    return weights


def _calibration(predicted: np.ndarray, y: np.ndarray) -> tuple[CalibrationBin, ...]:
    order = np.argsort(predicted)
    return tuple(
        CalibrationBin(
            predicted=float(predicted[part].mean()),
            observed=float(y[part].mean()),
            count=len(part),
        )
        for part in np.array_split(order, 10)
        if len(part)
    )


def save_churn_model(session: Session, model: ChurnModel, *, now: datetime | None = None) -> int:
    """Store ``model``; the newest stored model provides ``churn_risk``. Returns its id."""
    row = ChurnModelRow(
        created_at=utc_moment(now, "now"), horizon_days=model.horizon_days, model=model.to_json()
    )
    session.add(row)
    session.flush()
    return row.id


def latest_churn_model(session: Session) -> ChurnModel | None:
    """The newest stored churn model, if any."""
    row = session.scalars(
        select(ChurnModelRow).order_by(ChurnModelRow.created_at.desc(), ChurnModelRow.id.desc())
    ).first()
    return None if row is None else ChurnModel.from_json(row.model)


def churn_risk(session: Session, accounts: AccountRange, as_of: datetime) -> MetricValues:
    """The ``churn_risk`` metric: the newest model's probability for each account."""
    model = latest_churn_model(session)
    if model is None:
        return {}
    providers = installed_metrics().providers_for(frozenset(model.features))
    values = compute_metrics(session, accounts, as_of, providers)
    return {
        account_id: {"churn_risk": model.probability(metrics)}
        for account_id, metrics in values.items()
    }


@hookimpl
def cs_register_metrics(register: RegisterMetric) -> None:
    """Register ``churn_risk``, computed by the newest stored churn model."""
    definition = next(metric for metric in BUILTIN_METRICS if metric.name == "churn_risk")
    register(definition, churn_risk)
