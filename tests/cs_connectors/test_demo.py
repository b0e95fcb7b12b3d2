"""The demo connector: the demo generator through the sync path, resumable by chunk."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from cs_connectors import DemoConnector, DemoSettings
from cs_core import Account, DemoOptions, Store, Ticket, UsageDaily, load_demo, sync, sync_state

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
    loaded = store_factory()  # type: ignore[operator]
    load_demo(loaded, DemoOptions(accounts=25, seed=3, as_of=AS_OF))
    assert _counts(store) == _counts(loaded)


def test_a_bigger_base_resumes_where_the_last_stopped(store: Store) -> None:
    sync(store, DemoConnector(DemoSettings(accounts=10, seed=3, as_of=AS_OF)))
    (report,) = sync(store, DemoConnector(DemoSettings(accounts=12, seed=3, as_of=AS_OF))).streams
    # The base is the same, so only accounts 10 and 11 (and their records) are generated.
    assert 0 < report.read < 600
    assert _counts(store)[0] == 12
