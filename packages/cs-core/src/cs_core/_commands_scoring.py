"""``cs score`` and ``cs explain``: scoring runs and one account's score, explained."""

from __future__ import annotations

from datetime import datetime

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cs_core._cli_context import CLIContext, as_of_option, emit_json, json_option, moment, pass_cli
from cs_core._errors import CSError
from cs_core._identity import account_ids
from cs_core._lifecycle import account_stage, join_stage
from cs_core._metric_registry import installed_metrics
from cs_core._metric_values import AccountRange, compute_metrics
from cs_core._records import AccountRef
from cs_core._scorecard_rules import ScorecardRules, builtin_scorecards
from cs_core._scoring import score_account
from cs_core._scoring_run import RunSummary, score_all
from cs_core._tables import Account

__all__ = ["explain", "find_account", "print_run", "run_json", "score"]


def find_account(session: Session, source: str, external_id: str) -> int:
    """The store's id of the account ``source:external_id``, or a clear error."""
    ref = AccountRef(source=source, external_id=external_id)
    found = account_ids(session, [ref]).get(ref)
    if found is None:
        raise CSError(f"no account {source}:{external_id} in the store")
    return found


@click.command()
@as_of_option
@click.option(
    "--incremental", is_flag=True, help="Only the accounts whose data changed since scored."
)
@json_option
@pass_cli
def score(cli: CLIContext, as_of: datetime | None, incremental: bool, as_json: bool) -> None:
    """Score every account; record and announce the scores that changed."""
    store = cli.store()
    store.check_ready()
    if as_json:
        summary = score_all(store, as_of=moment(as_of), incremental=incremental)
        emit_json(run_json(summary))
        return
    with store.transaction() as session:
        total = session.scalar(select(func.count()).select_from(Account)) or 0
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task("Scoring accounts", total=total)
        summary = score_all(
            store,
            as_of=moment(as_of),
            incremental=incremental,
            on_progress=lambda done: progress.update(task, completed=done),
        )
    print_run(summary)


def print_run(summary: RunSummary) -> None:
    """A scoring run's summary line and its tiers, for people."""
    click.echo(
        f"Scored {summary.accounts:,} accounts ({summary.kind} run) "
        f"as of {summary.as_of.isoformat()} in "
        f"{summary.seconds:.1f}s ({summary.accounts_per_second:,.0f}/s): "
        f"{summary.changed:,} changed, {summary.signals_opened:,} signals opened, "
        f"{summary.events:,} events"
    )
    if not summary.tiers:
        return
    table = Table(
        "tier", "accounts", title=f"Health of the accounts scored in run {summary.run_id}"
    )
    for tier, count in sorted(summary.tiers.items(), key=lambda item: -item[1]):
        table.add_row(tier, f"{count:,}")
    Console().print(table)


def run_json(summary: RunSummary) -> dict[str, object]:
    """A scoring run's summary, for ``--json``."""
    return {
        "run_id": summary.run_id,
        "kind": summary.kind,
        "as_of": summary.as_of.isoformat(),
        "accounts": summary.accounts,
        "changed": summary.changed,
        "events": summary.events,
        "signals_opened": summary.signals_opened,
        "tiers": summary.tiers,
        "seconds": round(summary.seconds, 3),
        "accounts_per_second": round(summary.accounts_per_second, 1),
    }


@click.command()
@click.argument("external_id")
@click.option("--source", default="demo", show_default=True, help="The source of EXTERNAL_ID.")
@as_of_option
@json_option
@pass_cli
def explain(
    cli: CLIContext, external_id: str, source: str, as_of: datetime | None, as_json: bool
) -> None:
    """Score one account now (or as of a day) and explain the score."""
    store = cli.store()
    store.check_ready()
    when = moment(as_of)
    with store.transaction() as session:
        found = find_account(session, source, external_id)
        ref = AccountRef(source=source, external_id=external_id)
        segment, stage = session.execute(
            join_stage(select(Account.segment, account_stage())).where(Account.id == found)
        ).one()
        card = builtin_scorecards()[ScorecardRules.default().choose(segment, stage)]
        providers = installed_metrics().providers_for(card.metrics)
        values = compute_metrics(session, AccountRange(found, found), when, providers)
    health = score_account(card, values.get(found, {}), as_of=when)
    if as_json:
        emit_json(
            {
                "account": str(ref),
                "scorecard": health.scorecard_id,
                "score": health.score,
                "tier": health.tier,
                "inputs": health.inputs,
                "missing": [m.name for m in health.missing],
                "levers": [
                    {
                        "measure": lever.measure,
                        "target": lever.target,
                        "points": round(lever.points, 2),
                    }
                    for lever in health.levers()
                ],
            }
        )
        return
    click.echo(health.explain())
