"""The demo connector: cs-core's demo generator as a source, synced like any other.

It is registered through cs-core's own ``cs_register_connectors`` hook, as any plugin's would
be, and :func:`cs_core.load_demo` (behind ``cs demo``) syncs it: the demo goes through the same
engine, checkpoints and run records as real sources.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from pydantic import Field

from cs_core._connectors import (
    Checkpoint,
    Connector,
    ConnectorSettings,
    Stream,
    StreamItem,
)
from cs_core._demo import DEMO_SOURCE, DemoChunk, DemoOptions, generate_demo
from cs_core._markers import RegisterConnector, hookimpl

__all__ = ["DemoConnector", "DemoSettings", "cs_register_connectors"]


class DemoSettings(ConnectorSettings):
    """``CS_DEMO_ACCOUNTS``, ``CS_DEMO_SEED``, ``CS_DEMO_AS_OF``, ``CS_DEMO_HISTORY_DAYS`` and
    ``CS_DEMO_CHUNK_SIZE``."""

    accounts: int = Field(default=200, ge=1)
    seed: int = 42
    as_of: date = Field(default_factory=lambda: datetime.now(UTC).date())
    history_days: int = Field(default=120, ge=90)
    chunk_size: int = Field(default=200, ge=1)
    """Accounts per generated chunk, each checkpointed."""


class _Customers(Stream):
    """Every account with its records and usage, a checkpoint after each generated chunk."""

    name: ClassVar[str] = "customers"

    def __init__(self, options: DemoOptions, on_chunk: Callable[[DemoChunk], None] | None) -> None:
        self.options = options
        self.on_chunk = on_chunk

    def read(self, state: Mapping[str, Any] | None) -> Iterator[StreamItem]:
        same_base = state is not None and state.get("base") == self._base()
        start = int(state["next"]) if state is not None and same_base else 0
        for chunk in generate_demo(self.options, start=start):
            if self.on_chunk is not None:
                self.on_chunk(chunk)
            yield from chunk.records
            yield from chunk.usage
            start = min(start + self.options.chunk_size, self.options.accounts)
            yield Checkpoint({"base": self._base(), "next": start})
        yield Checkpoint({"base": self._base(), "next": self.options.accounts})

    def _base(self) -> str:
        """What identifies the generated base: another seed or day is another base."""
        options = self.options
        return f"seed {options.seed}, as of {options.as_of}, {options.history_days} days"


class DemoConnector(Connector):
    """A reproducible demo customer base (see cs-core's demo generator).

    ``on_chunk`` is called with each generated chunk of accounts as the stream reads it.
    """

    name: ClassVar[str] = DEMO_SOURCE
    settings_model: ClassVar[type[ConnectorSettings]] = DemoSettings

    def __init__(
        self, settings: ConnectorSettings, *, on_chunk: Callable[[DemoChunk], None] | None = None
    ) -> None:
        super().__init__(settings)
        self.on_chunk = on_chunk

    @classmethod
    def of(
        cls, options: DemoOptions, *, on_chunk: Callable[[DemoChunk], None] | None = None
    ) -> DemoConnector:
        """The connector generating the base ``options`` describe."""
        settings = DemoSettings(accounts=options.accounts, seed=options.seed,
                                as_of=options.as_of, history_days=options.history_days,
                                chunk_size=options.chunk_size)  # fmt: skip
        return cls(settings, on_chunk=on_chunk)

    @property
    def options(self) -> DemoOptions:
        settings = self.settings_as(DemoSettings)
        return DemoOptions(accounts=settings.accounts, seed=settings.seed, as_of=settings.as_of,
                           history_days=settings.history_days,
                           chunk_size=settings.chunk_size)  # fmt: skip

    def check(self) -> None:
        """The demo needs nothing outside this process."""
        self.options  # noqa: B018 - building the options validates them

    def streams(self) -> Sequence[Stream]:
        return [_Customers(self.options, self.on_chunk)]


@hookimpl
def cs_register_connectors(register: RegisterConnector) -> None:
    """Register cs-core's built-in connector: the demo."""
    register(DemoConnector)
