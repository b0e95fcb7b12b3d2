"""Syncs started over the API go on after the answer, and the server waits for them to stop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

import pytest

from cs_core import (
    AccountRecord,
    Checkpoint,
    Connector,
    ConnectorError,
    ConnectorSettings,
    Store,
    Stream,
    StreamItem,
    SyncRun,
)
from cs_server._background import BackgroundSyncs

released = threading.Event()


class Held(Stream):
    """One account, then nothing until ``released`` is set."""

    name: ClassVar[str] = "held"

    def read(self, state: Mapping[str, Any] | None) -> Iterator[StreamItem]:
        yield AccountRecord(source="held", external_id="A1", name="Held", segment="smb",
                            lifecycle_stage="success")  # fmt: skip
        assert released.wait(20), "the test never released the stream"
        yield Checkpoint({"done": True})


class HeldConnector(Connector):
    name: ClassVar[str] = "held"
    settings_model: ClassVar[type[ConnectorSettings]] = ConnectorSettings

    def check(self) -> None:
        pass

    def streams(self) -> Sequence[Stream]:
        return [Held()]


def status(store: Store, run_id: int) -> str:
    with store.transaction() as session:
        return session.get_one(SyncRun, run_id).status


def test_a_started_sync_goes_on_after_the_answer_until_it_is_done(store: Store) -> None:
    released.clear()

    async def scenario() -> None:
        syncs = BackgroundSyncs()
        run_id = await syncs.start(store, HeldConnector(ConnectorSettings()), None, False)
        assert status(store, run_id) == "running"
        released.set()
        await syncs.wait()
        assert status(store, run_id) == "succeeded"

    asyncio.run(scenario())


def test_what_stops_a_sync_from_starting_is_raised_by_start(store: Store) -> None:
    async def scenario() -> None:
        syncs = BackgroundSyncs()
        with pytest.raises(ConnectorError, match="has no stream 'tickets'"):
            await syncs.start(store, HeldConnector(ConnectorSettings()), ["tickets"], False)
        await syncs.wait()

    asyncio.run(scenario())
    with store.transaction() as session:
        assert session.query(SyncRun).count() == 0
