"""Syncs started over the API, going on after the answer.

A sync can take minutes, longer than HTTP clients and proxies wait for an answer, so the server
answers as soon as cs-core has recorded the run and leaves the sync to a worker thread. A server
stopping waits for its syncs; one stopped by force resumes from its last checkpoint at the next
sync, as any sync does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from functools import partial

import structlog
from anyio import to_thread

from cs_core import Connector, Store, sync

__all__ = ["BackgroundSyncs"]

log = structlog.get_logger("cs_server")


class BackgroundSyncs:
    """The syncs this server process has started and that are still going."""

    def __init__(self) -> None:
        self._running: set[asyncio.Task[None]] = set()

    async def start(
        self, store: Store, connector: Connector, streams: Sequence[str] | None, full_refresh: bool
    ) -> int:
        """Start syncing ``connector``; the run's id once the store has recorded it. What makes
        the sync refuse to start (an unknown stream, a store not migrated) is raised here."""
        loop = asyncio.get_running_loop()
        recorded: asyncio.Future[int] = loop.create_future()

        def settle(outcome: int | BaseException) -> None:
            if recorded.done():  # already told: what happened later is logged below
                return
            if isinstance(outcome, BaseException):
                recorded.set_exception(outcome)
            else:
                recorded.set_result(outcome)

        def started(run_id: int) -> None:  # in the sync's thread
            loop.call_soon_threadsafe(settle, run_id)

        async def run() -> None:
            try:
                report = await to_thread.run_sync(partial(
                    sync, store, connector, streams=streams, full_refresh=full_refresh,
                    on_started=started,
                ))  # fmt: skip
            except Exception as error:
                if recorded.done():
                    log.error("sync failed", connector=connector.name, error=str(error),
                              exc_info=error)  # fmt: skip
                settle(error)
                return
            log.info("sync finished", connector=connector.name, run=report.run_id,
                     failed=report.failed, records_read=report.read)  # fmt: skip

        task = asyncio.create_task(run())
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        # Shielded: a client that goes away before the answer does not stop the sync.
        return await asyncio.shield(recorded)

    async def wait(self) -> None:
        """Wait for the running syncs to finish (when the server stops)."""
        if self._running:
            log.warning("waiting for syncs to finish", syncs=len(self._running))
            await asyncio.gather(*self._running, return_exceptions=True)
