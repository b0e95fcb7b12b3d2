"""The demo connector: cs-core's demo generator as a source, synced like any other."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from pydantic import Field

from cs_core import (
    DEMO_SOURCE,
    Checkpoint,
    Connector,
    ConnectorError,
    ConnectorSettings,
    DemoOptions,
    Stream,
    StreamItem,
    generate_demo,
)

__all__ = ["DemoConnector", "DemoSettings"]


class DemoSettings(ConnectorSettings):
    """``CS_DEMO_ACCOUNTS``, ``CS_DEMO_SEED``, ``CS_DEMO_AS_OF`` and ``CS_DEMO_HISTORY_DAYS``."""

    accounts: int = Field(default=200, ge=1)
    seed: int = 42
    as_of: date = Field(default_factory=lambda: datetime.now(UTC).date())
    history_days: int = Field(default=120, ge=90)


class _Customers(Stream):
    """Every account with its records and usage, a checkpoint after each generated chunk."""

    name: ClassVar[str] = "customers"

    def __init__(self, options: DemoOptions) -> None:
        self.options = options

    def read(self, state: Mapping[str, Any] | None) -> Iterator[StreamItem]:
        same_base = state is not None and state.get("base") == self._base()
        start = int(state["next"]) if state is not None and same_base else 0
        for chunk in generate_demo(self.options, start=start):
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
    """A reproducible demo customer base (see cs-core's demo generator)."""

    name: ClassVar[str] = DEMO_SOURCE
    settings_model: ClassVar[type[ConnectorSettings]] = DemoSettings

    @property
    def options(self) -> DemoOptions:
        if not isinstance(self.settings, DemoSettings):
            raise ConnectorError("the demo connector needs DemoSettings")
        settings = self.settings
        return DemoOptions(accounts=settings.accounts, seed=settings.seed, as_of=settings.as_of,
                           history_days=settings.history_days)  # fmt: skip

    def check(self) -> None:
        """The demo needs nothing outside this process."""
        self.options  # noqa: B018 - building the options validates them

    def streams(self) -> Sequence[Stream]:
        return [_Customers(self.options)]
