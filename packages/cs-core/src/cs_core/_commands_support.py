"""``cs sla``: tickets measured against the support SLAs, escalations recorded."""

from __future__ import annotations

from datetime import datetime

import click
from rich.console import Console
from rich.table import Table

from cs_core._cli_context import CLIContext, as_of_option, emit_json, json_option, moment, pass_cli
from cs_core._enums import TicketPriority
from cs_core._sla import check_slas

__all__ = ["sla"]


@click.command()
@as_of_option
@json_option
@pass_cli
def sla(cli: CLIContext, as_of: datetime | None, as_json: bool) -> None:
    """Check recent and open tickets against their SLAs; record new escalations.

    Targets and the escalation path come from the policies (CS_POLICIES over the defaults).
    """
    report = check_slas(cli.store(), as_of=moment(as_of))
    rows = [
        {
            "priority": priority.value,
            "tickets": report.tickets[priority],
            "response_breaches": report.response_breaches[priority],
            "resolution_breaches": report.resolution_breaches[priority],
        }
        for priority in TicketPriority
    ]
    if as_json:
        emit_json(
            {
                "as_of": report.as_of.isoformat(),
                "priorities": rows,
                "escalations_recorded": report.escalations_recorded,
            }
        )
        return
    table = Table(
        "priority",
        "tickets",
        "response breaches",
        "resolution breaches",
        title=f"Recent and open tickets as of {report.as_of:%Y-%m-%d %H:%M} UTC",
    )
    for row in rows:
        table.add_row(
            str(row["priority"]).upper(),
            f"{row['tickets']:,}",
            f"{row['response_breaches']:,}",
            f"{row['resolution_breaches']:,}",
        )
    Console().print(table)
    click.echo(f"{report.escalations_recorded:,} new escalations recorded")
