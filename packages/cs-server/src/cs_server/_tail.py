"""Tailing the outbox: one reader per process, its newest events shared by every subscriber.

The outbox is the truth; wake-ups only say "look now". A process wakes on its own commits; on
PostgreSQL on ``NOTIFY cs_outbox`` (sent by any process or host that commits events); on SQLite
when the file's ``data_version`` moves (another process, a ``cs score`` or ``cs sync`` beside
``cs serve``, committed to it), which it asks every 20 ms; and every ``poll_interval`` seconds
as a safety net. Each wake reads the new events once, whatever
the number of subscribers, and appends them to a window of recent events that all subscribers
read from.

A subscriber is nothing but a cursor (an outbox id) and a converter: it takes the events after
its cursor from the window, and when the window no longer reaches back that far (it resumed from
an old cursor, or could not keep up), it reads them from the outbox by its cursor until it has
caught up. Either way every event after the cursor arrives once, in order: nothing falls between
the backlog and the live events, and nothing is delivered twice. Holding no queue per subscriber
keeps both memory and the cost of a wake-up independent of how far behind anyone is.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from bisect import bisect_right
from collections.abc import AsyncGenerator, Callable, Collection
from typing import TypeVar

import psycopg
import structlog
from anyio import to_thread
from sqlalchemy import func, select

from cs_core import OUTBOX_CHANNEL, DomainEvent, OutboxEvent, Store, on_outbox_commit, read_events

__all__ = ["OutboxTail"]

log = structlog.get_logger("cs_server")

_PAGE = 500
_FILE_WATCH_INTERVAL = 0.02
"""On SQLite, how often the tail asks whether another process has committed to the file."""
_Item = TypeVar("_Item")


def _event_id(event: DomainEvent) -> int:
    return event.id


class OutboxTail:
    """Reads the outbox as it grows and shares its newest events with every subscriber."""

    def __init__(self, store: Store, *, poll_interval: float, window: int = 2000) -> None:
        self.store = store
        self.poll_interval = poll_interval
        self.window = window
        """How many of the newest events are kept for subscribers to read from memory."""
        self.position = 0
        """The newest event id this process has read."""
        self.subscribers = 0
        """Subscriptions open in this process, for the metrics."""
        self.delivered = 0
        """Events handed to subscribers, for the metrics."""
        self._recent: list[DomainEvent] = []
        self._recent_after = 0
        """The window holds every event with an id above this, up to ``position``."""
        self._arrived = asyncio.Event()
        """Set (and replaced) each time events are added to the window."""
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stop_local: Callable[[], None] | None = None

    async def start(self) -> None:
        self.position = self._recent_after = await to_thread.run_sync(self._newest)
        loop = asyncio.get_running_loop()

        def wake() -> None:  # called in whichever thread committed
            loop.call_soon_threadsafe(self._wake.set)

        self._stop_local = on_outbox_commit(wake)
        self._tasks.append(asyncio.create_task(self._run()))
        if self.store.dialect == "postgresql":
            self._tasks.append(asyncio.create_task(self._listen()))
        else:
            self._tasks.append(asyncio.create_task(self._watch_file()))

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
        with self.store.transaction(read_only=True) as session:
            return session.scalar(select(func.max(OutboxEvent.id))) or 0

    def _read(self, after: int, types: Collection[str] | None = None) -> list[DomainEvent]:
        with self.store.transaction(read_only=True) as session:
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

    async def _watch_file(self) -> None:
        """Wake when another connection commits to the SQLite file: its ``data_version`` moves.

        The question reads the file's shared memory, not the file, so asking it often is cheap;
        it is asked in a worker thread all the same, as no SQLite call may block the loop."""
        connection = self.store.engine.raw_connection()

        def version() -> int:
            return int(connection.cursor().execute("PRAGMA data_version").fetchone()[0])

        try:
            seen = await to_thread.run_sync(version)
            while True:
                await asyncio.sleep(_FILE_WATCH_INTERVAL)
                current = await to_thread.run_sync(version)
                if current != seen:
                    seen = current
                    self._wake.set()
        except sqlite3.Error as error:  # stop() must not meet it; the poll stays as a safety net
            log.warning("watching the SQLite file failed: only polling now", error=str(error))
        finally:
            connection.close()

    async def _run(self) -> None:
        while True:
            # Not wait_for: on Python 3.11 it loses a cancellation that arrives as the wake-up
            # does, and stop() then waits for ever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_interval):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self._catch_up()
            except Exception as error:  # the tail must outlive a failed read
                log.error("reading the outbox failed", error=str(error))

    async def _catch_up(self) -> None:
        while True:
            events = await to_thread.run_sync(self._read, self.position)
            if events:
                self._recent.extend(events)
                self.position = events[-1].id
                # Trimmed in halves, so that trimming costs nothing per event on average.
                if len(self._recent) >= 2 * self.window:
                    del self._recent[: len(self._recent) - self.window]
                    self._recent_after = self._recent[0].id - 1
                arrived, self._arrived = self._arrived, asyncio.Event()
                arrived.set()
            if len(events) < _PAGE:
                return

    def events(
        self,
        types: Collection[str],
        after: int | None,
        convert: Callable[[DomainEvent], _Item | None],
    ) -> AsyncGenerator[_Item, None]:
        """Events of ``types`` after the cursor ``after`` (``None``: from this call on), for
        ever, each through ``convert``; those it turns into ``None`` are left out."""
        return self._events(types, self.position if after is None else after, convert)

    async def _events(
        self,
        types: Collection[str],
        last: int,
        convert: Callable[[DomainEvent], _Item | None],
    ) -> AsyncGenerator[_Item, None]:
        self.subscribers += 1
        try:
            while True:
                arrived = self._arrived  # taken first: events added after this will set it
                caught_up_to = None
                if last < self._recent_after:  # further back than the window: the outbox
                    reached = self.position
                    pending = await to_thread.run_sync(self._read, last, types)
                    # Ids become visible in order: a page that is not full holds every event of
                    # these types up to what this process had read before asking.
                    if len(pending) < _PAGE:
                        caught_up_to = reached
                else:
                    pending = self._recent[bisect_right(self._recent, last, key=_event_id) :]
                    if not pending:
                        await arrived.wait()
                        continue
                for event in pending:
                    last = event.id
                    if event.type in types and (item := convert(event)) is not None:
                        self.delivered += 1
                        yield item
                if caught_up_to is not None:
                    last = max(last, caught_up_to)
        finally:
            self.subscribers -= 1
