"""Filling a store with the demo customer base through the store's bulk paths."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from cs_core._demo import DemoOptions, generate_demo
from cs_core._records import AccountRecord
from cs_core._store import Store
from cs_core._usage import write_daily_usage
from cs_core._writes import write_records

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
    """Write the demo customer base into ``store``, one transaction per chunk of accounts.

    The store must be migrated (:meth:`Store.upgrade`). Loading is idempotent: loading the same
    options again rewrites the same records, and a load interrupted part-way is completed by
    running it again. ``on_progress`` is called with the number of accounts after each chunk.
    """
    options = options or DemoOptions()
    store.check_ready()
    started = time.perf_counter()
    written: Counter[str] = Counter()
    segments: Counter[str] = Counter()
    trajectories: Counter[str] = Counter()
    done = 0
    for chunk in generate_demo(options):
        with store.transaction() as session:
            result = write_records(session, chunk.records)
            written["usage day"] += write_daily_usage(session, chunk.usage)
        written.update(result.written)
        segments.update(
            record.segment.value for record in chunk.records if isinstance(record, AccountRecord)
        )
        trajectories.update(trajectory.value for trajectory in chunk.trajectories.values())
        done += len(chunk.trajectories)
        if on_progress is not None:
            on_progress(done)
    return DemoSummary(
        database=store.url.render_as_string(hide_password=True),
        options=options,
        written=dict(written),
        segments=dict(segments),
        trajectories=dict(trajectories),
        seconds=time.perf_counter() - started,
    )
