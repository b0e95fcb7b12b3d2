"""Tailing the outbox: one reader per process, fanning events out to every subscriber.

The outbox is the truth; wake-ups only say "look now". A process wakes on PostgreSQL's
``NOTIFY cs_outbox`` (sent by any process or host that commits events), on its own commits, and
every ``poll_interval`` seconds as a safety net. Each wake reads the new events once, whatever
the number of subscribers.

A subscriber resumes from a cursor (an outbox id): it registers for live events first, then reads
the backlog after its cursor from the outbox, then takes live events, skipping ids it already
delivered. Registering first means no event can fall between the backlog and the live stream; the
id check means none is delivered twice. A subscriber that cannot keep up (its queue fills) is not
dropped: it reads from the outbox by its cursor until it has caught up.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass, field

import psycopg
import structlog
from anyio import to_thread
from sqlalchemy import func, select

from cs_core import OUTBOX_CHANNEL, DomainEvent, OutboxEvent, Store, on_outbox_commit, read_events

__all__ = ["OutboxTail"]

log = structlog.get_logger("cs_server")

_PAGE = 500
_QUEUE = 1000


@dataclass(eq=False)
class _Subscriber:
    queue: asyncio.Queue[DomainEvent] = field(default_factory=lambda: asyncio.Queue(_QUEUE))
    lagging: bool = False


class OutboxTail:
    """Reads the outbox as it grows and hands each new event to every subscriber."""

    def __init__(self, store: Store, *, poll_interval: float) -> None:
        self.store = store
        self.poll_interval = poll_interval
        self.position = 0
        """The newest event id this process has read and fanned out."""
        self.delivered = 0
        """Events handed to subscribers, for the metrics."""
        self._subscribers: set[_Subscriber] = set()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stop_local: Callable[[], None] | None = None

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    async def start(self) -> None:
        self.position = await to_thread.run_sync(self._newest)
        loop = asyncio.get_running_loop()

        def wake() -> None:  # called in whichever thread committed
            loop.call_soon_threadsafe(self._wake.set)

        self._stop_local = on_outbox_commit(wake)
        self._tasks.append(asyncio.create_task(self._run()))
        if self.store.dialect == "postgresql":
            self._tasks.append(asyncio.create_task(self._listen()))

    async def stop(self) -> None:
        if self._stop_local is not None:
            self._stop_local()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    def _newest(self) -> int:
        with self.store.transaction() as session:
            return session.scalar(select(func.max(OutboxEvent.id))) or 0

    def _read(self, after: int, types: Collection[str] | None = None) -> list[DomainEvent]:
        with self.store.transaction() as session:
            return list(read_events(session, after=after, limit=_PAGE, types=types))

    async def _listen(self) -> None:
        """Wake on NOTIFY from any process; reconnect after a lost connection."""
        url = self.store.engine.url.set(drivername="postgresql")
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    url.render_as_string(hide_password=False), autocommit=True
                ) as connection:
                    await connection.execute(f"LISTEN {OUTBOX_CHANNEL}")
                    self._wake.set()  # events committed while not listening
                    async for _ in connection.notifies():
                        self._wake.set()
            except psycopg.OperationalError as error:
                log.warning("outbox listener lost its connection", error=str(error))
                await asyncio.sleep(min(self.poll_interval, 1.0))

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            self._wake.clear()
            try:
                await self._fan_out()
            except Exception as error:  # the tail must outlive a failed read
                log.error("reading the outbox failed", error=str(error))

    async def _fan_out(self) -> None:
        while True:
            events = await to_thread.run_sync(self._read, self.position)
            for event in events:
                for subscriber in self._subscribers:
                    if subscriber.lagging:
                        continue
                    try:
                        subscriber.queue.put_nowait(event)
                    except asyncio.QueueFull:
                        subscriber.lagging = True
                self.position = event.id
            if len(events) < _PAGE:
                return

    async def events(self, types: Collection[str], after: int | None) -> AsyncIterator[DomainEvent]:
        """Events of ``types`` after the cursor ``after`` (``None``: from now on), for ever."""
        subscriber = _Subscriber()
        self._subscribers.add(subscriber)
        try:
            last = self.position if after is None else after
            while True:
                # Backlog, or catching up after falling behind: read by cursor.
                while True:
                    backlog = await to_thread.run_sync(self._read, last, types)
                    for event in backlog:
                        last = event.id
                        self.delivered += 1
                        yield event
                    if len(backlog) < _PAGE:
                        break
                if subscriber.lagging:
                    subscriber.queue = asyncio.Queue(_QUEUE)
                    subscriber.lagging = False
                    continue  # what arrived while the queue was being replaced is in the outbox
                while not subscriber.lagging:
                    event = await subscriber.queue.get()
                    if event.id <= last:
                        continue
                    last = event.id
                    if event.type in types:
                        self.delivered += 1
                        yield event
        finally:
            self._subscribers.discard(subscriber)
