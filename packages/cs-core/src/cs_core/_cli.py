"""The ``cs`` command line: a click group whose commands all arrive through the plugin hook."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from functools import partial

import click
import pluggy
from sqlalchemy.exc import SQLAlchemyError

from cs_core._cli_context import CLIContext
from cs_core._errors import CSError
from cs_core._plugins import plugin_manager

__all__ = ["build_cli", "main"]


def build_cli(plugins: pluggy.PluginManager) -> click.Group:
    """The ``cs`` group with every command that ``plugins`` register."""

    @click.group(context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(package_name="cs-core", prog_name="cs")
    @click.option(
        "--database-url",
        envvar="CS_DATABASE_URL",
        metavar="URL",
        help="The store: sqlite:///path/cs.db or postgresql://user@host/db "
        "[env: CS_DATABASE_URL; default: a SQLite file in the user data folder]",
    )
    @click.pass_context
    def cli(context: click.Context, database_url: str | None) -> None:
        """Customer Success SDK: health scoring, playbooks and renewals on your own data."""
        context.obj = CLIContext(database_url=database_url, plugins=plugins)

    owners: dict[str, str] = {}
    # Each plugin's hook gets a register() of its own, so that a clash can name both plugins.
    for implementation in plugins.hook.cs_register_commands.get_hookimpls():
        implementation.function(
            register=partial(_add_command, cli, owners, implementation.plugin_name)
        )
    return cli


def _add_command(
    cli: click.Group, owners: dict[str, str], plugin: str, command: click.Command
) -> None:
    if not isinstance(command, click.Command) or not command.name:
        raise CSError(f"plugin {plugin!r} registered {command!r}, not a named click.Command")
    if command.name in owners:
        raise CSError(
            f"plugins {owners[command.name]!r} and {plugin!r} both register "
            f"the command 'cs {command.name}': disable one with CS_DISABLE_PLUGINS"
        )
    owners[command.name] = plugin
    cli.add_command(command)


def main(argv: Sequence[str] | None = None) -> None:
    """Run ``cs``: a user's mistake prints one line on stderr and exits 1, not a traceback."""
    try:
        cli = build_cli(plugin_manager())
        outcome = cli.main(args=argv, prog_name="cs", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except CSError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(1)
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        click.echo(f"error: the store refused the operation: {reason}", err=True)
        sys.exit(1)
    if isinstance(outcome, int) and outcome:
        sys.exit(outcome)
