"""A plugin that adds `cs accounts`: a module with one hook implementation.

Announce it in your package's pyproject.toml:

    [project.entry-points.cs]
    my_plugin = "my_package.command_plugin"
"""

import click
from sqlalchemy import func, select

from cs_core import Account, RegisterCommand, Store, hookimpl


@click.command()
@click.option("--segment", help="Only this segment.")
def accounts(segment: str | None) -> None:
    """Count the accounts in the store."""
    query = select(func.count()).select_from(Account)
    if segment:
        query = query.where(Account.segment == segment)
    with Store().transaction() as session:
        click.echo(f"{session.scalar(query)} accounts")


@hookimpl
def cs_register_commands(register: RegisterCommand) -> None:
    register(accounts)
