"""The metrics available to scorecards: cs-core's and those installed plugins register."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache, partial

import pluggy

from cs_core._errors import ConfigurationError
from cs_core._markers import MetricProvider
from cs_core._metrics import BUILTIN_METRICS, MetricCatalogue, MetricDefinition
from cs_core._plugins import plugin_manager

__all__ = ["MetricRegistry", "installed_metrics", "metric_registry"]


@dataclass
class MetricRegistry:
    """Each metric's definition and the provider that computes it.

    It starts with cs-core's catalogue of metric definitions; plugins add providers (for these
    or for metrics of their own). A metric declared but without a provider, such as QBR
    attendance while no plugin brings meetings into the store, is simply missing for every
    account, and measures reading it follow their missing-data policy.
    """

    definitions: dict[str, MetricDefinition] = field(
        default_factory=lambda: {metric.name: metric for metric in BUILTIN_METRICS}
    )
    providers: dict[str, MetricProvider] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)
    """The plugin that provides each metric."""

    def add(self, plugin: str, definition: MetricDefinition, provider: MetricProvider) -> None:
        """Add a metric's provider; a metric another plugin provides already is an error."""
        if definition.name in self.owners:
            raise ConfigurationError(
                f"plugins {self.owners[definition.name]!r} and {plugin!r} both provide the "
                f"metric {definition.name!r}: disable one with CS_DISABLE_PLUGINS"
            )
        if not callable(provider):
            raise ConfigurationError(
                f"plugin {plugin!r} registered metric {definition.name!r} with a provider "
                f"that is not callable: {provider!r}"
            )
        self.owners[definition.name] = plugin
        self.definitions.setdefault(definition.name, definition)
        self.providers[definition.name] = provider

    @property
    def catalogue(self) -> MetricCatalogue:
        """Every metric a scorecard may read."""
        return MetricCatalogue(self.definitions.values())

    @property
    def without_provider(self) -> frozenset[str]:
        """Declared metrics that nothing installed computes: always missing."""
        return frozenset(self.definitions) - frozenset(self.providers)

    def providers_for(self, metrics: frozenset[str] | None = None) -> list[MetricProvider]:
        """Each provider needed for ``metrics`` (default: all), once, in registration order."""
        wanted = (
            self.providers
            if metrics is None
            else {name: self.providers[name] for name in metrics if name in self.providers}
        )
        return list(dict.fromkeys(wanted.values()))


def metric_registry(plugins: pluggy.PluginManager | None = None) -> MetricRegistry:
    """The metrics that ``plugins`` (default: cs-core's and the installed plugins') register."""
    manager = plugins or plugin_manager()
    registry = MetricRegistry()
    for implementation in manager.hook.cs_register_metrics.get_hookimpls():
        implementation.function(register=partial(registry.add, implementation.plugin_name))
    return registry


@cache
def installed_metrics() -> MetricRegistry:
    """:func:`metric_registry` of the installed plugins, computed once per process."""
    return metric_registry()
