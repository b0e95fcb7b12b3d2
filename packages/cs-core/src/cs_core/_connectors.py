"""The connector contract: what a plugin implements to bring a source's records into the store.

A :class:`Connector` has a ``name`` (the source name its records carry), a settings model read
from ``CS_<NAME>_*`` environment variables (secrets as ``SecretStr``: never logged or printed),
``check()`` and ``streams()``. A :class:`Stream` reads from an optional cursor state and yields
records, :class:`Candidate` records for the engine to validate (a bad one is quarantined with its
source payload), :class:`Deletion` notices and :class:`Checkpoint` states. A connector never
touches the database: the sync engine commits each batch with the checkpoint that covers it.

Helpers every connector needs, so none writes its own: :class:`CursorTracker` for ``>=`` cursors
with ties at the boundary, :class:`PageGuard` against paginators that repeat themselves, and
:class:`TransientError` for failures worth retrying (the engine resumes the stream from its last
checkpoint, with backoff, honouring ``Retry-After``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, partial
from typing import Any, ClassVar, TypeVar

import pluggy
from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from cs_core._errors import ConfigurationError, CSError
from cs_core._plugins import plugin_manager
from cs_core._records import Record
from cs_core._usage import DailyUsage

__all__ = [
    "Candidate",
    "Checkpoint",
    "Connector",
    "ConnectorError",
    "ConnectorRegistry",
    "ConnectorSettings",
    "CursorTracker",
    "Deletion",
    "PageGuard",
    "PaginationError",
    "Stream",
    "StreamItem",
    "TransientError",
    "connector_registry",
    "installed_connectors",
]


class ConnectorError(CSError):
    """A connector cannot read its source: what is wrong and what to do about it."""


class TransientError(ConnectorError):
    """A failure that may pass (a timeout, 429, 5xx): the engine retries from the checkpoint."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PaginationError(ConnectorError):
    """The source handed back a page cursor it had already given: reading on would loop."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The stream's state once every item yielded before it is stored."""

    state: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Candidate:
    """A record to build and validate in the engine; if it fails, the source ``payload`` goes
    to quarantine with the reason, and the sync goes on."""

    model: type[Record]
    fields: Mapping[str, Any]
    payload: Mapping[str, Any]
    """The source's own representation, kept as it came for the quarantine."""


@dataclass(frozen=True, slots=True)
class Deletion:
    """The source deleted this record: the engine removes it from the store (see
    :func:`cs_core.delete_records` for what deleting an account means)."""

    model: type[Record]
    source: str
    external_id: str


StreamItem = Record | DailyUsage | Candidate | Checkpoint | Deletion


class Stream(ABC):
    """One kind of data from a source, read in order from a cursor state."""

    name: ClassVar[str]

    @abstractmethod
    def read(self, state: Mapping[str, Any] | None) -> Iterator[StreamItem]:
        """Yield items after ``state`` (``None``: from the start), and checkpoints."""


class ConnectorSettings(BaseSettings):
    """Base of connector settings: read from ``CS_<CONNECTOR>_<FIELD>`` environment variables."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)


_Settings = TypeVar("_Settings", bound=ConnectorSettings)


class Connector(ABC):
    """A source of records. Subclasses set ``name`` and ``settings_model``."""

    name: ClassVar[str]
    """The source name its records carry, and what ``cs sync NAME`` calls it."""
    settings_model: ClassVar[type[ConnectorSettings]] = ConnectorSettings

    def __init__(self, settings: ConnectorSettings) -> None:
        if not isinstance(settings, self.settings_model):
            raise ConfigurationError(
                f"connector {self.name!r} takes {self.settings_model.__name__}, "
                f"not {type(settings).__name__}"
            )
        self.settings = settings

    def settings_as(self, model: type[_Settings]) -> _Settings:
        """The settings as ``model`` (the connector's ``settings_model``), typed for its code."""
        if not isinstance(self.settings, model):
            raise ConfigurationError(
                f"connector {self.name!r} has {type(self.settings).__name__}, not {model.__name__}"
            )
        return self.settings

    @classmethod
    def env_prefix(cls) -> str:
        return f"CS_{cls.name.upper().replace('-', '_')}_"

    @classmethod
    def from_environment(cls) -> Connector:
        """The connector configured from ``CS_<NAME>_*``; what is missing or wrong is named."""
        prefix = cls.env_prefix()
        try:
            settings = cls.settings_model(_env_prefix=prefix)
        except ValidationError as error:
            problems = "; ".join(
                f"{prefix}{str(problem['loc'][0]).upper()}: {problem['msg']}"
                for problem in error.errors()
            )
            raise ConfigurationError(
                f"connector {cls.name!r} is not configured: {problems}"
            ) from None
        return cls(settings)

    @abstractmethod
    def check(self) -> None:
        """Raise :class:`ConnectorError` saying what to fix if the source cannot be read."""

    @abstractmethod
    def streams(self) -> Sequence[Stream]:
        """The streams, in the order a sync reads them (accounts before what they own)."""


@dataclass
class CursorTracker:
    """A cursor read with ``>=``: the items at the cursor value already seen are skipped.

    Sources order by a modification time; several records can share it, and a page can end in
    the middle of them. Reading again from ``>= cursor`` is safe only if those seen are dropped.
    """

    value: str | None = None
    seen: set[str] = field(default_factory=set)

    @classmethod
    def from_state(cls, state: Mapping[str, Any] | None) -> CursorTracker:
        if not state:
            return cls()
        return cls(state.get("cursor"), set(state.get("seen_at_cursor", ())))

    def is_new(self, value: str, key: str) -> bool:
        """Whether the item ``key`` at cursor ``value`` is new; if so, the cursor moves to it."""
        if self.value is not None and value < self.value:
            return False
        if value == self.value:
            if key in self.seen:
                return False
            self.seen.add(key)
            return True
        self.value, self.seen = value, {key}
        return True

    @property
    def state(self) -> dict[str, Any]:
        return {"cursor": self.value, "seen_at_cursor": sorted(self.seen)}


@dataclass
class PageGuard:
    """Fails a stream whose paginator hands back a cursor it gave before."""

    what: str
    given: set[str] = field(default_factory=set)

    def next(self, cursor: str) -> str:
        if cursor in self.given:
            raise PaginationError(
                f"{self.what}: the source returned the page cursor {cursor!r} twice; "
                "stopping rather than reading the same pages forever"
            )
        self.given.add(cursor)
        return cursor


@dataclass
class ConnectorRegistry:
    """Each connector class by name, and the plugin that registered it."""

    connectors: dict[str, type[Connector]] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)

    def add(self, plugin: str, connector: object) -> None:
        """Add a connector; checked here, so a broken plugin is named when it loads."""
        if not (isinstance(connector, type) and issubclass(connector, Connector)):
            raise ConfigurationError(
                f"plugin {plugin!r} registered {connector!r}, which is not a Connector subclass"
            )
        name = getattr(connector, "name", None)
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"plugin {plugin!r}: connector {connector!r} has no name")
        if name in self.owners:
            raise ConfigurationError(
                f"plugins {self.owners[name]!r} and {plugin!r} both register the connector "
                f"{name!r}: disable one with CS_DISABLE_PLUGINS"
            )
        self.owners[name] = plugin
        self.connectors[name] = connector

    def get(self, name: str) -> type[Connector]:
        try:
            return self.connectors[name]
        except KeyError:
            known = ", ".join(sorted(self.connectors)) or "none"
            raise ConfigurationError(
                f"no connector {name!r} is installed; known: {known}"
            ) from None


def connector_registry(plugins: pluggy.PluginManager | None = None) -> ConnectorRegistry:
    """The connectors that ``plugins`` (default: the installed plugins) register."""
    manager = plugins or plugin_manager()
    registry = ConnectorRegistry()
    for implementation in manager.hook.cs_register_connectors.get_hookimpls():
        implementation.function(register=partial(registry.add, implementation.plugin_name))
    return registry


@cache
def installed_connectors() -> ConnectorRegistry:
    """:func:`connector_registry` of the installed plugins, computed once per process."""
    return connector_registry()
