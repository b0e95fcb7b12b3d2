"""``cs lifecycle``: every account's stage and onboarding milestones, evaluated and recorded."""

from __future__ import annotations

from datetime import datetime

import click
from rich.console import Console
from rich.table import Table

from cs_core._cli_context import CLIContext, as_of_option, emit_json, json_option, moment, pass_cli
from cs_core._enums import LifecycleStage
from cs_core._lifecycle import LifecycleReport, time_to_value_by_segment, update_lifecycle

__all__ = ["lifecycle", "lifecycle_json", "print_lifecycle"]


@click.command()
@as_of_option
@json_option
@pass_cli
def lifecycle(cli: CLIContext, as_of: datetime | None, as_json: bool) -> None:
    """Evaluate every account's lifecycle stage and onboarding milestones; record the changes.

    Stage changes, reached milestones and overdue milestones become outbox events. Tracks and
    thresholds come from the policies (CS_POLICIES over the defaults).
    """
    store = cli.store()
    report = update_lifecycle(store, as_of=moment(as_of))
    ttv = time_to_value_by_segment(store)
    if as_json:
        emit_json(
            lifecycle_json(report)
            | {
                "time_to_value": {
                    segment.value: {
                        "accounts": value.accounts,
                        "median_days": value.median_days,
                        "mean_days": value.mean_days,
                    }
                    for segment, value in ttv.items()
                }
            }
        )
        return
    print_lifecycle(report)
    table = Table("segment", "accounts", "median days", "mean days", title="Time to value")
    for segment, value in ttv.items():
        table.add_row(
            segment.value,
            f"{value.accounts:,}",
            "-" if value.median_days is None else f"{value.median_days:.1f}",
            "-" if value.mean_days is None else f"{value.mean_days:.1f}",
        )
    Console().print(table)


def lifecycle_json(report: LifecycleReport) -> dict[str, object]:
    """A lifecycle evaluation's summary, for ``--json``."""
    return {
        "as_of": report.as_of.isoformat(),
        "accounts": report.accounts,
        "stages": report.stages,
        "changed": report.changed,
        "milestones_completed": report.milestones_completed,
        "milestones_overdue": report.milestones_overdue,
        "at_risk": report.at_risk,
        "events": report.events,
    }


def print_lifecycle(report: LifecycleReport) -> None:
    """A lifecycle evaluation's summary line and its stages, for people."""
    click.echo(
        f"Lifecycle of {report.accounts:,} accounts as of {report.as_of:%Y-%m-%d}: "
        f"{report.changed:,} changed stage, {report.milestones_completed:,} milestones reached, "
        f"{report.milestones_overdue:,} newly overdue, {report.at_risk:,} onboardings at risk"
    )
    table = Table("stage", "accounts", title="Lifecycle stages")
    for stage in LifecycleStage:
        table.add_row(stage.value, f"{report.stages.get(stage.value, 0):,}")
    Console().print(table)
