"""The plugin system: pluggy, with one entry-point group, ``cs``.

A plugin is a module (or object) with functions marked :data:`hookimpl` whose names are those of
:class:`HookSpecs`. Packages announce plugins through the ``cs`` entry-point group; cs-core's own
commands are registered through the very same hooks.

Hooks use the register-callback style: a hook receives a ``register`` function and calls it once
per thing it contributes, so that a plugin can contribute any number of them, or none.
"""

from __future__ import annotations

import os

import pluggy

from cs_core import _commands
from cs_core._markers import ENTRY_POINT_GROUP, RegisterCommand, hookimpl, hookspec

__all__ = [
    "ENTRY_POINT_GROUP",
    "HookSpecs",
    "RegisterCommand",
    "hookimpl",
    "hookspec",
    "plugin_manager",
]


class HookSpecs:
    """Every hook a plugin can implement. The plugin guide documents each one."""

    @hookspec
    def cs_register_commands(self, register: RegisterCommand) -> None:
        """Add commands to the ``cs`` command line.

        Call ``register(command)`` with a :class:`click.Command` (or group) for each command;
        its name becomes ``cs NAME``. A name already taken is an error naming both plugins.
        """


def plugin_manager(*, load_entry_points: bool = True) -> pluggy.PluginManager:
    """A plugin manager with cs-core's built-ins and, unless told not to, installed plugins.

    ``CS_DISABLE_PLUGINS`` (comma-separated entry-point names) blocks plugins from loading.
    """
    manager = pluggy.PluginManager(ENTRY_POINT_GROUP)
    manager.add_hookspecs(HookSpecs)
    for name in os.environ.get("CS_DISABLE_PLUGINS", "").split(","):
        if name.strip():
            manager.set_blocked(name.strip())
    manager.register(_commands, name="cs_core")
    if load_entry_points:
        manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    manager.check_pending()
    return manager
