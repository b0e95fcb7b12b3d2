"""``cs backtest`` and ``cs churn-model``: proving models on the store's history."""

from __future__ import annotations

import re
from datetime import datetime

import click
from rich.console import Console
from rich.table import Table

from cs_core._backtest import BacktestReport, backtest
from cs_core._churn_model import ChurnModel, fit_churn_model, save_churn_model
from cs_core._cli_context import CLIContext, emit_json, json_option, pass_cli
from cs_core._errors import CSError
from cs_core._scorecard_rules import builtin_scorecards

__all__ = ["backtest_command", "churn_model"]

horizon_option = click.option(
    "--horizon", default="90d", show_default=True, help="Days after each observation."
)
observation_option = click.option(
    "--at",
    "observed",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    multiple=True,
    help="An observation day (repeatable)  [default: three days 30 days apart, horizons passed]",
)


def _horizon_days(text: str) -> int:
    match = re.fullmatch(r"\s*(\d+)\s*d?\s*", text)
    if match is None:
        raise CSError(f"horizon {text!r} is not a number of days such as 90d")
    return int(match[1])


@click.command("backtest")
@click.option("--scorecard", "scorecard_id", default="sop", show_default=True)
@horizon_option
@observation_option
@json_option
@pass_cli
def backtest_command(
    cli: CLIContext,
    scorecard_id: str,
    horizon: str,
    observed: tuple[datetime, ...],
    as_json: bool,
) -> None:
    """Score accounts at past days and measure how well the scores predicted churn."""
    cards = builtin_scorecards()
    if scorecard_id not in cards:
        raise CSError(f"no scorecard {scorecard_id!r}; known: {', '.join(sorted(cards))}")
    store = cli.store()
    store.check_ready()
    report = backtest(
        store,
        cards[scorecard_id],
        horizon_days=_horizon_days(horizon),
        observation_dates=[moment.date() for moment in observed] or None,
    )
    if as_json:
        emit_json(_report_json(report))
        return
    _print_report(report)


def _report_json(report: BacktestReport) -> dict[str, object]:
    return {
        "scorecard": report.scorecard_id,
        "horizon_days": report.horizon_days,
        "observation_dates": [day.isoformat() for day in report.observation_dates],
        "observations": report.observations,
        "churned": report.churned,
        "churn_rate": round(report.churn_rate, 4),
        "auc": None if report.auc is None else round(report.auc, 4),
        "lift": None if report.lift is None else round(report.lift, 2),
        "tiers": [
            {
                "tier": outcome.tier,
                "observations": outcome.observations,
                "churned": outcome.churned,
                "churn_rate": round(outcome.churn_rate, 4),
            }
            for outcome in report.tiers
        ],
    }


def _print_report(report: BacktestReport) -> None:
    auc = "n/a (needs churners and non-churners)" if report.auc is None else f"{report.auc:.3f}"
    lift = "n/a" if report.lift is None else f"{report.lift:.2f}x"
    click.echo(
        f"Scorecard {report.scorecard_id}, {report.horizon_days}-day horizon, observed on "
        f"{', '.join(day.isoformat() for day in report.observation_dates)}: "
        f"{report.observations:,} observations, {report.churned:,} churned "
        f"({report.churn_rate:.1%}); ROC AUC {auc}; lift of the worst tier {lift}"
    )
    table = Table("tier", "observations", "churned", "churn rate")
    for outcome in report.tiers:
        table.add_row(
            outcome.tier,
            f"{outcome.observations:,}",
            f"{outcome.churned:,}",
            f"{outcome.churn_rate:.1%}",
        )
    Console().print(table)


@click.group("churn-model")
def churn_model() -> None:
    """Fit the churn-risk model that gives the churn_risk metric."""


@churn_model.command("fit")
@horizon_option
@observation_option
@json_option
@pass_cli
def fit(cli: CLIContext, horizon: str, observed: tuple[datetime, ...], as_json: bool) -> None:
    """Fit a logistic regression on past observations, store it, and report its fit."""
    store = cli.store()
    store.check_ready()
    model = fit_churn_model(
        store,
        horizon_days=_horizon_days(horizon),
        observation_dates=[moment.date() for moment in observed] or None,
    )
    with store.transaction() as session:
        model_id = save_churn_model(session, model)
    if as_json:
        emit_json({"id": model_id, **model.to_json()})
        return
    _print_model(model_id, model)


def _print_model(model_id: int, model: ChurnModel) -> None:
    auc = "n/a" if model.auc is None else f"{model.auc:.3f}"
    click.echo(
        f"Churn model {model_id}: {model.observations:,} observations, {model.churned:,} "
        f"churned within {model.horizon_days} days; ROC AUC {auc}, Brier score {model.brier:.4f}"
    )
    weights = Table("feature", "coefficient (per standard deviation)")
    for name, weight in sorted(
        zip(model.features, model.coefficients, strict=True), key=lambda item: -abs(item[1])
    ):
        weights.add_row(name, f"{weight:+.3f}")
    calibration = Table("predicted churn", "observed churn", "observations", title="Calibration")
    for part in model.calibration:
        calibration.add_row(f"{part.predicted:.1%}", f"{part.observed:.1%}", f"{part.count:,}")
    Console().print(weights, calibration)
