"""The outbox tail: every event after a subscriber's cursor exactly once, in order, whether it
comes from the shared window of recent events or, for a subscriber further behind, the outbox."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing

import pytest

from cs_core import DomainEvent, NewEvent, Store, append_events
from cs_server._tail import OutboxTail

WANTED = "health.changed"
OTHER = "signal.fired"


def append(store: Store, types: list[str]) -> list[int]:
    with store.transaction() as session:
        return append_events(session, [NewEvent(kind, {"n": n}) for n, kind in enumerate(types)])


def ids_of(event: DomainEvent) -> int | None:
    return event.id


async def take(events: AsyncIterator[int | None], count: int) -> list[int | None]:
    async with asyncio.timeout(20):
        return [await anext(events) for _ in range(count)]


def tailing(
    store: Store,
    window: int,
    scenario: Callable[[OutboxTail], object],
    poll_interval: float = 0.05,
) -> None:
    async def run() -> None:
        tail = OutboxTail(store, poll_interval=poll_interval, window=window)
        await tail.start()
        try:
            await scenario(tail)  # type: ignore[misc]
        finally:
            await tail.stop()

    asyncio.run(run())


def test_a_subscriber_that_falls_behind_the_window_gets_every_event_once(store: Store) -> None:
    before = append(store, [WANTED])[-1]

    async def scenario(tail: OutboxTail) -> None:
        async with aclosing(tail.events({WANTED}, before, ids_of)) as slow:
            first = append(store, [WANTED, OTHER, WANTED])
            assert await take(slow, 1) == [first[0]]
            # 1,200 more while it reads nothing: far past the window (10) and a page (500).
            later = append(store, [WANTED, OTHER] * 600)
            expected = [first[2], *later[::2]]
            assert await take(slow, len(expected)) == expected
            assert tail.position == later[-1]
            live = append(store, [OTHER, WANTED])
            assert await take(slow, 1) == [live[1]]

    tailing(store, 10, scenario)


def test_subscribers_from_a_cursor_and_from_now_share_the_window(store: Store) -> None:
    old = append(store, [WANTED, WANTED])

    async def scenario(tail: OutboxTail) -> None:
        async with (
            aclosing(tail.events({WANTED}, old[0], ids_of)) as resumed,
            aclosing(tail.events({WANTED, OTHER}, None, ids_of)) as fresh,
        ):
            new = append(store, [OTHER, WANTED])
            assert await take(resumed, 2) == [old[1], new[1]]
            assert await take(fresh, 2) == new
            assert tail.subscribers == 2
        assert tail.subscribers == 0
        assert tail.delivered == 4

    tailing(store, 100, scenario)


def test_events_a_subscriber_converts_to_none_are_skipped_but_passed(store: Store) -> None:
    start = append(store, [OTHER])[-1]

    def odd_only(event: DomainEvent) -> int | None:
        return event.id if event.payload["n"] % 2 else None

    async def scenario(tail: OutboxTail) -> None:
        async with aclosing(tail.events({WANTED}, start, odd_only)) as events:
            added = append(store, [WANTED] * 6)
            assert await take(events, 3) == added[1::2]

    tailing(store, 100, scenario)


def test_a_commit_by_another_process_wakes_the_tail_on_sqlite(store: Store) -> None:
    """No commit hook of this process fires, and the safety-net poll is a minute away: only the
    file's data_version can tell the tail."""
    if store.dialect != "sqlite":
        pytest.skip("PostgreSQL wakes every process with NOTIFY (tested in test_processes)")
    start = append(store, [OTHER])[-1]
    elsewhere = (
        "import sys\n"
        "from cs_core import NewEvent, Store, append_events\n"
        "with Store(sys.argv[1]) as store, store.transaction() as session:\n"
        f"    append_events(session, [NewEvent({WANTED!r}, {{'n': 0}})])\n"
    )

    async def scenario(tail: OutboxTail) -> None:
        async with aclosing(tail.events({WANTED}, start, ids_of)) as events:
            url = store.engine.url.render_as_string(hide_password=False)
            await asyncio.to_thread(subprocess.run, [sys.executable, "-c", elsewhere, url],
                                    check=True)  # fmt: skip
            async with asyncio.timeout(5):
                assert await anext(events) == start + 1

    tailing(store, 100, scenario, poll_interval=60)
