"""The pluggy markers, apart from the specs so that built-in plugins can import them freely."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

import click
import pluggy

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from cs_core._actions import ActionPlugin
    from cs_core._connectors import Connector
    from cs_core._metric_values import AccountRange
    from cs_core._metrics import MetricDefinition

__all__ = [
    "ENTRY_POINT_GROUP",
    "MetricProvider",
    "RegisterAction",
    "RegisterCommand",
    "RegisterConnector",
    "RegisterMetric",
    "hookimpl",
    "hookspec",
]

ENTRY_POINT_GROUP = "cs"
"""The entry-point group (and pluggy project name) plugins are found under."""

hookspec = pluggy.HookspecMarker(ENTRY_POINT_GROUP)
"""Marks a method of :class:`~cs_core.HookSpecs` as a hook."""

hookimpl = pluggy.HookimplMarker(ENTRY_POINT_GROUP)
"""Marks a plugin's function as the implementation of the hook of the same name."""

RegisterCommand = Callable[[click.Command], None]
"""The ``register`` callback that :meth:`HookSpecs.cs_register_commands` receives."""

MetricProvider = Callable[["Session", "AccountRange", datetime], dict[int, dict[str, float | None]]]
"""Computes metrics for a range of accounts as of a time: per account id, per metric, a value."""

RegisterMetric = Callable[["MetricDefinition", MetricProvider], None]
"""The ``register`` callback that :meth:`HookSpecs.cs_register_metrics` receives."""

RegisterAction = Callable[["ActionPlugin"], None]
"""The ``register`` callback that :meth:`HookSpecs.cs_register_actions` receives."""

RegisterConnector = Callable[[type["Connector"]], None]
"""The ``register`` callback that :meth:`HookSpecs.cs_register_connectors` receives."""
