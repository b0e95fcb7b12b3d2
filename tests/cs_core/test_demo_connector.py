"""The demo connector: the demo generator through the sync path, resumable by chunk."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from cs_core import (
    Account,
    DemoConnector,
    DemoOptions,
    DemoSettings,
    Store,
    Ticket,
    UsageDaily,
    generate_demo,
    sync,
    sync_state,
    write_daily_usage,
    write_records,
)

AS_OF = date(2026, 11, 1)


def _counts(store: Store) -> tuple[int, int, int]:
    with store.transaction() as session:
        return tuple(  # type: ignore[return-value]
            session.scalar(select(func.count()).select_from(table)) or 0
            for table in (Account, Ticket, UsageDaily)
        )


def test_the_demo_syncs_like_it_loads(store: Store, store_factory: object) -> None:
    connector = DemoConnector(DemoSettings(accounts=25, seed=3, as_of=AS_OF))
    connector.check()
    (report,) = sync(store, connector).streams
    assert report.status == "succeeded"
    assert sync_state(store, "demo", "customers") == {
        "base": "seed 3, as of 2026-11-01, 120 days", "next": 25,
    }  # fmt: skip
    # The same as writing the generator's output straight through the store's bulk paths.
    written = store_factory()  # type: ignore[operator]
    for chunk in generate_demo(DemoOptions(accounts=25, seed=3, as_of=AS_OF)):
        with written.transaction() as session:
            write_records(session, chunk.records)
            write_daily_usage(session, chunk.usage)
    assert _counts(store) == _counts(written)


def test_a_bigger_base_resumes_where_the_last_stopped(store: Store) -> None:
    sync(store, DemoConnector(DemoSettings(accounts=10, seed=3, as_of=AS_OF)))
    (report,) = sync(store, DemoConnector(DemoSettings(accounts=12, seed=3, as_of=AS_OF))).streams
    # The base is the same, so only accounts 10 and 11 (and their records) are generated.
    assert 0 < report.read < 600
    assert _counts(store)[0] == 12
