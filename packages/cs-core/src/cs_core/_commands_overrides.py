"""``cs override``: set, clear and report health overrides."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from rich.console import Console
from rich.table import Table

from cs_core._cli_context import CLIContext, emit_json, json_option, pass_cli
from cs_core._commands_scoring import find_account
from cs_core._errors import CSError
from cs_core._overrides import (
    clear_override,
    effective_health,
    override_health,
    override_rates,
)

__all__ = ["override"]

account_argument = click.argument("external_id")
source_option = click.option(
    "--source", default="demo", show_default=True, help="The source of EXTERNAL_ID."
)
author_option = click.option("--by", "author", required=True, help="Who decides this.")


@click.group()
def override() -> None:
    """Override an account's health with a person's judgement, and see how often it happens."""


@override.command("set")
@account_argument
@source_option
@click.option("--score", type=click.FloatRange(0, 100), required=True, help="0 to 100.")
@click.option("--reason", required=True, help="Why the computed score is wrong.")
@author_option
@click.option(
    "--until",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The UTC day it expires  [default: until cleared]",
)
@pass_cli
def set_override(
    cli: CLIContext,
    external_id: str,
    source: str,
    score: float,
    reason: str,
    author: str,
    until: datetime | None,
) -> None:
    """Set the health of EXTERNAL_ID to SCORE."""
    with cli.store().transaction() as session:
        made = override_health(
            session,
            find_account(session, source, external_id),
            score,
            author=author,
            reason=reason,
            expires_at=None if until is None else until.replace(tzinfo=UTC),
        )
        click.echo(
            f"{source}:{external_id} now counts as {made.score:g} ({made.tier}) instead of "
            f"{made.computed_score if made.computed_score is not None else 'no score'}"
            + (f", until {made.expires_at.date().isoformat()}" if made.expires_at else "")
        )


@override.command("clear")
@account_argument
@source_option
@author_option
@pass_cli
def clear(cli: CLIContext, external_id: str, source: str, author: str) -> None:
    """End the override of EXTERNAL_ID: the computed score counts again."""
    with cli.store().transaction() as session:
        account_id = find_account(session, source, external_id)
        if not effective_health(session, account_id).overridden:
            raise CSError(f"{source}:{external_id} has no override in force")
        clear_override(session, account_id, author=author)
    click.echo(f"{source}:{external_id}: override cleared")


@override.command("rates")
@json_option
@pass_cli
def rates(cli: CLIContext, as_json: bool) -> None:
    """How often each scorecard's scores are overridden: if often, the model is wrong."""
    with cli.store().transaction() as session:
        found = override_rates(session, now=datetime.now(UTC))
    if as_json:
        emit_json(
            [
                {
                    "scorecard": rate.scorecard_id,
                    "accounts": rate.accounts,
                    "overridden": rate.overridden,
                    "rate": round(rate.rate, 4),
                }
                for rate in found
            ]
        )
        return
    table = Table("scorecard", "accounts", "overridden", "rate")
    for rate in found:
        table.add_row(
            rate.scorecard_id, f"{rate.accounts:,}", f"{rate.overridden:,}", f"{rate.rate:.1%}"
        )
    Console().print(table)
