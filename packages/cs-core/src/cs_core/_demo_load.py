"""Filling a store with the demo customer base: the demo connector, through the sync engine."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from cs_core._demo import DemoChunk, DemoOptions
from cs_core._demo_connector import DemoConnector
from cs_core._errors import CSError
from cs_core._records import AccountRecord
from cs_core._store import Store
from cs_core._sync import sync

__all__ = ["DemoSummary", "load_demo"]


@dataclass(frozen=True, slots=True)
class DemoSummary:
    """What :func:`load_demo` wrote."""

    database: str
    options: DemoOptions
    written: dict[str, int] = field(default_factory=dict)
    """Records written, by kind (``account``, ``contact``, ``usage day`` …)."""
    segments: dict[str, int] = field(default_factory=dict)
    trajectories: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def load_demo(
    store: Store,
    options: DemoOptions | None = None,
    *,
    on_progress: Callable[[int], None] | None = None,
) -> DemoSummary:
    """Write the demo customer base into ``store`` by syncing the demo connector.

    The store must be migrated (:meth:`Store.upgrade`). Loading is idempotent: loading the same
    options again rewrites the same records (the sync is a full refresh), and every batch is
    committed with its checkpoint like any sync's. ``on_progress`` is called with the number of
    accounts generated so far, chunk by chunk.
    """
    options = options or DemoOptions()
    store.check_ready()
    started = time.perf_counter()
    written: Counter[str] = Counter()
    segments: Counter[str] = Counter()
    trajectories: Counter[str] = Counter()
    done = 0

    def tally(chunk: DemoChunk) -> None:
        nonlocal done
        written.update(record.kind for record in chunk.records)
        written["usage day"] += len(chunk.usage)
        segments.update(
            record.segment.value for record in chunk.records if isinstance(record, AccountRecord)
        )
        trajectories.update(trajectory.value for trajectory in chunk.trajectories.values())
        done += len(chunk.trajectories)
        if on_progress is not None:
            on_progress(done)

    # A full refresh: loading the same options again rewrites the same records.
    report = sync(store, DemoConnector.of(options, on_chunk=tally), full_refresh=True)
    if report.failed:
        (failure,) = (stream.error for stream in report.streams if stream.error)
        raise CSError(f"loading the demo failed: {failure}")
    return DemoSummary(
        database=store.url.render_as_string(hide_password=True),
        options=options,
        written=dict(written),
        segments=dict(segments),
        trajectories=dict(trajectories),
        seconds=time.perf_counter() - started,
    )
