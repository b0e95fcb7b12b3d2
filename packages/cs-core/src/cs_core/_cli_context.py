"""What the ``cs`` commands share: the context object and JSON output."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import click
import pluggy

from cs_core._store import Store

__all__ = ["CLIContext", "emit_json"]


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
