"""What the ``cs`` commands share: the context object, common options and JSON output."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import click
import pluggy

from cs_core._store import Store

__all__ = ["CLIContext", "as_of_option", "emit_json", "json_option", "moment", "pass_cli"]


@dataclass
class CLIContext:
    """What every command can reach through ``click.get_current_context().obj``."""

    database_url: str | None
    plugins: pluggy.PluginManager

    def store(self) -> Store:
        """The store named by ``--database-url``, ``CS_DATABASE_URL`` or the default file."""
        return Store(self.database_url)


def emit_json(value: Any) -> None:
    """Print ``value`` as one JSON document, for ``--json`` output."""
    click.echo(json.dumps(value, indent=2, sort_keys=True, default=str))


_Command = TypeVar("_Command", bound=Callable[..., Any])

_pass_context = click.make_pass_decorator(CLIContext)


def pass_cli(command: _Command) -> _Command:
    """Hand a command the :class:`CLIContext` as its first argument (store, plugins)."""
    return _pass_context(command)  # type: ignore[return-value]


def json_option(command: _Command) -> _Command:
    """Add ``--json`` (passed as ``as_json``): print JSON for machines instead of text."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")(command)


as_of_option = click.option(
    "--as-of",
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    default=None,
    help="As of this UTC day or time, from the data stored up to it  [default: now]",
)


def moment(as_of: datetime | None) -> datetime:
    """An ``--as-of`` value (read as UTC) as an aware datetime; ``None`` is now."""
    return datetime.now(UTC) if as_of is None else as_of.replace(tzinfo=UTC)
