"""``cs kpis``, ``cs portfolio`` and ``cs renewals``: the numbers CS leaders run the team on."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from cs_core._cli_context import CLIContext, as_of_option, emit_json, json_option, moment, pass_cli
from cs_core._enums import Segment
from cs_core._kpis import KpiReport, compute_kpis, kpis_by, portfolio
from cs_core._period import Period
from cs_core._renewals import expansion_pipeline, renewal_forecast, upcoming_renewals
from cs_core._types import parse_duration

__all__ = ["kpis", "portfolio_command", "renewals"]

segment_option = click.option(
    "--segment",
    type=click.Choice([segment.value for segment in Segment]),
    help="Only the accounts of this segment.",
)
owner_option = click.option("--owner", help="Only the accounts this CSM owns (their e-mail).")
period_option = click.option(
    "--period",
    help="2026-Q3, 2026-07, 2026 or 2026-07-01..2026-09-30  [default: the last full quarter]",
)


def _period(text: str | None) -> Period:
    return Period.previous_quarter(datetime.now(UTC).date()) if text is None else Period.parse(text)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _number(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:,.1f}{unit}"


def _money(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


_ROWS: tuple[tuple[str, str, Any], ...] = (
    ("GRR", "grr", _percent),
    ("NRR", "nrr", _percent),
    ("Logo churn rate", "logo_churn_rate", _percent),
    ("Revenue churn rate", "revenue_churn_rate", _percent),
    ("Renewal rate", "renewal_rate", _percent),
    ("On-time renewal rate", "on_time_renewal_rate", _percent),
    ("Expansion rate", "expansion_rate", _percent),
    ("Average expansion", "average_expansion", _money),
    ("Average expansion (share of ARR)", "average_expansion_share", _percent),
    ("Time to value (median days)", "time_to_value_days", _number),
    ("Adoption (active users / seats)", "adoption", _percent),
    ("NPS", "nps", _number),
    ("CSAT (4 or 5 of 5)", "csat", _percent),
    ("First response (median hours)", "first_response_hours", _number),
    ("Resolution (median hours)", "resolution_hours", _number),
    ("First-contact resolution", "first_contact_resolution", _percent),
)


@click.command()
@period_option
@segment_option
@owner_option
@click.option(
    "--by", type=click.Choice(["segment", "owner"]), help="One column per segment or owner."
)
@json_option
@pass_cli
def kpis(
    cli: CLIContext,
    period: str | None,
    segment: str | None,
    owner: str | None,
    by: str | None,
    as_json: bool,
) -> None:
    """Retention, renewal, expansion, adoption and support KPIs of a period.

    The formulas are in the documentation's KPI page.
    """
    chosen = _period(period)
    store = cli.store()
    reports = (
        kpis_by(store, chosen, by, segment=segment, owner=owner)
        if by
        else [compute_kpis(store, chosen, segment=segment, owner=owner)]
    )
    if as_json:
        emit_json([report.as_dict() for report in reports])
        return
    _print_kpis(reports, chosen, by)


def _print_kpis(reports: list[KpiReport], period: Period, by: str | None) -> None:
    first = reports[0] if reports else None
    scope = ", ".join(
        part
        for part in (
            first and not by and first.segment and f"segment {first.segment}",
            first and not by and first.owner and f"owner {first.owner}",
        )
        if part
    )
    title = f"KPIs of {period.label} ({period.start} to {period.last_day})" + (
        f", {scope}" if scope else ""
    )
    heads = [str(getattr(report, by or "period")) for report in reports] if by else ["value"]
    table = Table("KPI", *heads, title=title)
    table.add_row(
        "Starting ARR (accounts)",
        *(f"{_money(r.starting_arr)} ({r.starting_accounts:,})" for r in reports),
    )
    for label, name, show in _ROWS:
        table.add_row(label, *(show(getattr(report, name)) for report in reports))
    table.add_row(
        "Health at period end",
        *(
            ", ".join(f"{tier} {count:,}" for tier, count in sorted(r.health_distribution.items()))
            or "-"
            for r in reports
        ),
    )
    Console().print(table)


@click.command("portfolio")
@as_of_option
@json_option
@pass_cli
def portfolio_command(cli: CLIContext, as_of: datetime | None, as_json: bool) -> None:
    """Each CSM's book: live accounts, ARR, accounts at risk, tasks, workload, renewals soon."""
    rows = portfolio(cli.store(), as_of=moment(as_of))
    if as_json:
        emit_json([{**asdict(row), "arr": str(row.arr), "workload": row.workload} for row in rows])
        return
    table = Table(
        "owner", "accounts", "ARR", "at risk", "open signals", "open tasks", "escalated tickets",
        "renewals ≤ 90 days", "workload", title="CSM portfolios",
    )  # fmt: skip
    for row in rows:
        table.add_row(
            row.owner, f"{row.accounts:,}", _money(row.arr), f"{row.at_risk:,}",
            f"{row.open_signals:,}", f"{row.open_tasks:,}", f"{row.escalated_tickets:,}",
            f"{row.renewals_next_90_days:,}", f"{row.workload:,}",
        )  # fmt: skip
    Console().print(table)


@click.group(invoke_without_command=True)
@click.option(
    "--within", default="180d", show_default=True, help="How far ahead to look, as 90d or 26w."
)
@segment_option
@owner_option
@as_of_option
@json_option
@click.pass_context
def renewals(
    context: click.Context,
    within: str,
    segment: str | None,
    owner: str | None,
    as_of: datetime | None,
    as_json: bool,
) -> None:
    """Contracts up for renewal: their track's step, health and likelihood.

    The tracks' steps and the likelihoods come from the policies (CS_POLICIES over the defaults).
    """
    if context.invoked_subcommand is not None:
        return
    cli = context.find_object(CLIContext)
    if cli is None:
        raise click.UsageError("renewals is a subcommand of cs: run `cs renewals`")
    days = parse_duration(within, "--within").days
    found = upcoming_renewals(
        cli.store(), within_days=days, as_of=moment(as_of), segment=segment, owner=owner
    )
    if as_json:
        emit_json(
            [
                {
                    "account": r.account, "name": r.name, "owner": r.owner,
                    "segment": r.segment.value, "renewal_date": r.renewal_date.isoformat(),
                    "days_to_renewal": r.days_to_renewal, "track": r.track.value,
                    "arr": str(r.arr), "tier": r.tier, "open_signals": r.open_signals,
                    "likelihood": r.likelihood, "expected_arr": str(r.expected_arr),
                    "current_step": r.current_step and r.current_step.step,
                    "next_step": r.next_step and r.next_step.step,
                    "next_due": r.next_due and r.next_due.isoformat(),
                }
                for r in found
            ]
        )  # fmt: skip
        return
    table = Table(
        "account", "renews", "days", "track", "ARR", "health", "likelihood", "step now",
        "next step (due)", title=f"Renewals within {days} days",
    )  # fmt: skip
    for r in found:
        table.add_row(
            f"{r.name} ({r.account})", r.renewal_date.isoformat(), str(r.days_to_renewal),
            r.track.value, _money(r.arr), r.tier or "-", _percent(r.likelihood),
            r.current_step.step if r.current_step else "-",
            f"{r.next_step.step} ({r.next_due})" if r.next_step else "-",
        )  # fmt: skip
    Console().print(table)
    expected = sum((r.expected_arr for r in found), Decimal(0))
    click.echo(
        f"{len(found):,} renewals, {_money(sum((r.arr for r in found), Decimal(0)))} ARR, "
        f"{_money(expected)} expected"
    )


@renewals.command()
@period_option
@segment_option
@owner_option
@as_of_option
@json_option
@pass_cli
def forecast(
    cli: CLIContext,
    period: str | None,
    segment: str | None,
    owner: str | None,
    as_of: datetime | None,
    as_json: bool,
) -> None:
    """Expected renewal ARR of a period by health tier, and its accuracy once known.

    With --as-of in the past, the forecast is the one that could have been made then.
    """
    chosen = _period(period)
    result = renewal_forecast(
        cli.store(), chosen, as_of=moment(as_of), segment=segment, owner=owner
    )
    if as_json:
        emit_json(
            {
                "period": result.period,
                "as_of": result.as_of.isoformat(),
                "contracts": result.contracts,
                "arr": str(result.arr),
                "expected_arr": str(result.expected_arr),
                "by_tier": {
                    tier: {"contracts": t.contracts, "arr": str(t.arr),
                           "expected_arr": str(t.expected_arr)}
                    for tier, t in result.by_tier.items()
                },
                "renewed": result.renewed,
                "actual_arr": None if result.actual_arr is None else str(result.actual_arr),
                "accuracy": result.accuracy,
            }
        )  # fmt: skip
        return
    table = Table(
        "health",
        "contracts",
        "ARR",
        "expected ARR",
        title=f"Renewals ending in {chosen.label}, forecast as of {result.as_of:%Y-%m-%d}",
    )
    for tier, totals in result.by_tier.items():
        table.add_row(
            tier, f"{totals.contracts:,}", _money(totals.arr), _money(totals.expected_arr)
        )
    table.add_row("all", f"{result.contracts:,}", _money(result.arr), _money(result.expected_arr))
    Console().print(table)
    if result.accuracy is None and result.actual_arr is None:
        click.echo("The outcome is not known yet: the period and its grace days are not over.")
    else:
        click.echo(
            f"Renewed: {result.renewed:,} contracts, {_money(result.actual_arr)} ARR; "
            f"forecast accuracy {_percent(result.accuracy)}"
        )


@renewals.command()
@segment_option
@owner_option
@as_of_option
@json_option
@pass_cli
def pipeline(
    cli: CLIContext, segment: str | None, owner: str | None, as_of: datetime | None, as_json: bool
) -> None:
    """Accounts with open expansion opportunities or expansion signals, largest first."""
    leads = expansion_pipeline(cli.store(), as_of=moment(as_of), segment=segment, owner=owner)
    if as_json:
        emit_json([{**asdict(lead), "pipeline": str(lead.pipeline)} for lead in leads])
        return
    table = Table("account", "owner", "open opportunities", "pipeline", "signals",
                  title="Expansion pipeline")  # fmt: skip
    for lead in leads:
        table.add_row(
            lead.account, lead.owner or "-", f"{lead.open_opportunities:,}",
            _money(lead.pipeline), ", ".join(lead.signals) or "-",
        )  # fmt: skip
    Console().print(table)
    click.echo(
        f"{len(leads):,} accounts, {_money(sum((lead.pipeline for lead in leads), Decimal(0)))} "
        "in open expansion opportunities"
    )
