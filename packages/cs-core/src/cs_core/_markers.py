"""The pluggy markers, apart from the specs so that built-in plugins can import them freely."""

from __future__ import annotations

from collections.abc import Callable

import click
import pluggy

__all__ = ["ENTRY_POINT_GROUP", "RegisterCommand", "hookimpl", "hookspec"]

ENTRY_POINT_GROUP = "cs"
"""The entry-point group (and pluggy project name) plugins are found under."""

hookspec = pluggy.HookspecMarker(ENTRY_POINT_GROUP)
"""Marks a method of :class:`~cs_core.HookSpecs` as a hook."""

hookimpl = pluggy.HookimplMarker(ENTRY_POINT_GROUP)
"""Marks a plugin's function as the implementation of the hook of the same name."""

RegisterCommand = Callable[[click.Command], None]
"""The ``register`` callback that :meth:`HookSpecs.cs_register_commands` receives."""
