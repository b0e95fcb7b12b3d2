"""Incremental rescoring after ingestion: usage that arrives moves health within seconds.

Every write path marks the accounts it touched; a scoring run with ``incremental=True`` scores
exactly those. After a commit of new usage the server asks for a run, and runs are debounced: a
burst of requests makes one run, at most ``delay`` seconds after the first, so a steady stream
of events costs one run per delay rather than one per request. On PostgreSQL one process at a
time runs them (an advisory lock); the marks wait for the next run, nothing is lost.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from anyio import to_thread

from cs_core import Store, exclusively, score_all

__all__ = ["Rescorer"]

log = structlog.get_logger("cs_server")


class Rescorer:
    def __init__(self, store: Store, *, delay: float) -> None:
        self.store = store
        self.delay = delay
        self.runs = 0
        self._wanted = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def request(self) -> None:
        """Ask for a run soon (cheap: call it after every commit that marks accounts)."""
        self._wanted.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await self._wanted.wait()
            await asyncio.sleep(self.delay)
            self._wanted.clear()
            try:
                if not await to_thread.run_sync(self._score):
                    self._wanted.set()  # another process is scoring: try again after it
            except Exception as error:  # the next request tries again
                log.error("incremental rescoring failed", error=str(error))

    def _score(self) -> bool:
        with exclusively(self.store, "scoring:incremental") as free:
            if not free:
                return False
            summary = score_all(self.store, incremental=True)
        self.runs += 1
        log.info("rescored", accounts=summary.accounts, changed=summary.changed,
                 seconds=round(summary.seconds, 3))  # fmt: skip
        return True
