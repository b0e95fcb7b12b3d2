"""The plugin system: pluggy, with one entry-point group, ``cs``.

A plugin is a module (or object) with functions marked :data:`hookimpl` whose names are those of
:class:`HookSpecs`. Packages announce plugins through the ``cs`` entry-point group; cs-core's own
commands are registered through the very same hooks.

Hooks use the register-callback style: a hook receives a ``register`` function and calls it once
per thing it contributes, so that a plugin can contribute any number of them, or none.
"""

from __future__ import annotations

import os
from importlib.metadata import entry_points

import pluggy

from cs_core._errors import ConfigurationError
from cs_core._markers import (
    ENTRY_POINT_GROUP,
    RegisterAction,
    RegisterCommand,
    RegisterConnector,
    RegisterMetric,
    hookimpl,
    hookspec,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "HookSpecs",
    "RegisterAction",
    "RegisterCommand",
    "RegisterConnector",
    "RegisterMetric",
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

    @hookspec
    def cs_register_metrics(self, register: RegisterMetric) -> None:
        """Add metrics that scorecard measures can read.

        Call ``register(definition, provider)`` for each metric: a :class:`MetricDefinition`
        (name, description, unit, direction) and the provider that computes it. A provider is
        called once per chunk of accounts with ``(session, accounts, as_of)`` and returns, per
        account id, a mapping of metric names to values (``None`` or absent: no data); one
        provider may compute several metrics. A name already taken is an error.
        """

    @hookspec
    def cs_register_connectors(self, register: RegisterConnector) -> None:
        """Add connectors that ``cs sync`` can run.

        Call ``register(connector_class)`` for each: a :class:`Connector` subclass with a
        ``name``, a ``settings_model`` read from ``CS_<NAME>_*`` environment variables,
        ``check()`` and ``streams()``. A class that is not a connector, or a name already taken,
        is an error naming the plugin.
        """

    @hookspec
    def cs_register_actions(self, register: RegisterAction) -> None:
        """Add notification actions that playbooks can send through.

        Call ``register(action)`` for each action: an object with a ``name`` (what channels
        name in ``action = "…"``) and ``send(notification, options)``, which delivers a
        :class:`Notification` with the channel's options and returns a short receipt, or raises
        :class:`ActionFailedError` with the reason. A name already taken is an error.
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
    # cs-core's own plugins import the scoring and command modules, which import this one.
    from cs_core import (  # noqa: PLC0415
        _actions,
        _churn_model,
        _commands,
        _demo_connector,
        _metric_values,
    )

    manager.register(_commands, name="cs_core")
    manager.register(_actions, name="cs_core.actions")
    manager.register(_metric_values, name="cs_core.metrics")
    manager.register(_churn_model, name="cs_core.churn_model")
    manager.register(_demo_connector, name="cs_core.connectors")
    if load_entry_points:
        _load_entry_points(manager)
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as error:
        raise ConfigurationError(
            f"plugin {error.plugin!r} implements a hook cs does not have: {error}"
        ) from None
    return manager


def _load_entry_points(manager: pluggy.PluginManager) -> None:
    """Load the ``cs`` entry points one by one, so that a broken plugin is named."""
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        if manager.is_blocked(entry_point.name) or manager.get_plugin(entry_point.name):
            continue
        package = entry_point.dist.name if entry_point.dist else "an unknown package"
        fix = f"fix or uninstall {package}, or set CS_DISABLE_PLUGINS={entry_point.name}"
        try:
            plugin = entry_point.load()
        except Exception as error:
            raise ConfigurationError(
                f"plugin {entry_point.name!r} ({package}) failed to load: "
                f"{type(error).__name__}: {error}; {fix}"
            ) from error
        try:
            manager.register(plugin, name=entry_point.name)
        except pluggy.PluginValidationError as error:
            raise ConfigurationError(
                f"plugin {entry_point.name!r} ({package}) does not match cs's hooks: {error}; {fix}"
            ) from None
