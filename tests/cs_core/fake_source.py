"""A source for the sync engine's tests: accounts, then tickets whose modification times tie.

Configured like any connector, from ``CS_FAKE_*``: how many of each, how often to checkpoint,
where to fail once with a transient error, and how long to pause per record (for a test that
kills the process mid-stream).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from cs_core import (
    AccountRecord,
    Candidate,
    Checkpoint,
    Connector,
    ConnectorError,
    ConnectorSettings,
    CursorTracker,
    PageGuard,
    Stream,
    StreamItem,
    TicketRecord,
    TransientError,
)

EPOCH = datetime(2026, 10, 1, tzinfo=UTC)


class FakeSettings(ConnectorSettings):
    accounts: int = 30
    tickets: int = 100
    checkpoint_every: int = 10
    fail_at: int | None = None
    """A ticket index where the first read fails with a transient error."""
    retry_after: float | None = None
    repeat_page: bool = False
    """Hand back a page cursor twice."""
    pause: float = 0.0
    reachable: bool = True


class Accounts(Stream):
    name: ClassVar[str] = "accounts"

    def __init__(self, settings: FakeSettings) -> None:
        self.settings = settings

    def read(self, state: Mapping[str, Any] | None) -> Iterator[StreamItem]:
        start = int(state["next"]) if state else 0
        for index in range(start, self.settings.accounts):
            yield AccountRecord(source="fake", external_id=f"A{index}", name=f"Account {index}",
                                segment="smb", lifecycle_stage="success")  # fmt: skip
            if (index + 1) % self.settings.checkpoint_every == 0:
                yield Checkpoint({"next": index + 1})
        yield Checkpoint({"next": self.settings.accounts})


class Tickets(Stream):
    """Ticket ``i`` was modified at minute ``i // 3``: three tickets share each cursor value."""

    name: ClassVar[str] = "tickets"
    failed_once: ClassVar[set[int]] = set()

    def __init__(self, settings: FakeSettings) -> None:
        self.settings = settings

    def read(self, state: Mapping[str, Any] | None) -> Iterator[StreamItem]:
        cursor = CursorTracker.from_state(state)
        guard = PageGuard("fake tickets")
        # The source is queried with ">= cursor": the tickets at the cursor come back again.
        first = 0 if cursor.value is None else 3 * int(cursor.value)
        for index in range(first, self.settings.tickets):
            if index % self.settings.checkpoint_every == 0:
                guard.next("same" if self.settings.repeat_page else f"page-{index}")
            if index == self.settings.fail_at and index not in Tickets.failed_once:
                Tickets.failed_once.add(index)
                raise TransientError("the fake source answered 503",
                                     retry_after=self.settings.retry_after)  # fmt: skip
            if not cursor.is_new(f"{index // 3:06d}", f"T{index}"):
                continue
            time.sleep(self.settings.pause)
            payload = {"id": f"T{index}", "org": f"A{index % self.settings.accounts}",
                       "priority": "p9" if index % 37 == 36 else f"p{index % 4 + 1}"}  # fmt: skip
            yield Candidate(
                TicketRecord,
                {"source": "fake", "external_id": payload["id"],
                 "account_external_id": payload["org"], "priority": payload["priority"],
                 "status": "open", "opened_at": EPOCH + timedelta(minutes=index)},
                payload,
            )  # fmt: skip
            if (index + 1) % self.settings.checkpoint_every == 0:
                yield Checkpoint(cursor.state)
        yield Checkpoint(cursor.state)


class FakeConnector(Connector):
    name: ClassVar[str] = "fake"
    settings_model: ClassVar[type[ConnectorSettings]] = FakeSettings

    @property
    def fake_settings(self) -> FakeSettings:
        return self.settings_as(FakeSettings)

    def check(self) -> None:
        if not self.fake_settings.reachable:
            raise ConnectorError("the fake source is unreachable: set CS_FAKE_REACHABLE=true")

    def streams(self) -> Sequence[Stream]:
        return [Accounts(self.fake_settings), Tickets(self.fake_settings)]
