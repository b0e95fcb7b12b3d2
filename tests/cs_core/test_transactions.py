"""Transactions that meet: one that reads and then writes is not failed by another writer
committing in between (SQLite's "database is locked"), and readers do not wait for writers."""

from __future__ import annotations

import threading
import time

from sqlalchemy import func, select

from cs_core import NewEvent, OutboxEvent, Store, append_events


def events(store: Store) -> int:
    with store.transaction(read_only=True) as session:
        return session.scalar(select(func.count()).select_from(OutboxEvent)) or 0


def test_a_transaction_that_reads_then_writes_survives_another_writer(store: Store) -> None:
    has_read = threading.Event()
    failures: list[BaseException] = []

    def read_then_write() -> None:
        try:
            with store.transaction() as session:
                session.scalar(select(func.count()).select_from(OutboxEvent))
                has_read.set()
                time.sleep(0.3)  # the other writer comes now
                append_events(session, [NewEvent("health.changed", {"by": "reader"})])
        except BaseException as error:
            failures.append(error)

    first = threading.Thread(target=read_then_write)
    first.start()
    assert has_read.wait(10)
    with store.transaction() as session:
        append_events(session, [NewEvent("health.changed", {"by": "writer"})])
    first.join(20)
    assert failures == []
    assert events(store) == 2


def test_a_read_only_transaction_does_not_wait_for_a_writer(store: Store) -> None:
    writing = threading.Event()
    done = threading.Event()

    def write_slowly() -> None:
        with store.transaction() as session:
            append_events(session, [NewEvent("health.changed", {})])
            writing.set()
            done.wait(10)

    writer = threading.Thread(target=write_slowly)
    writer.start()
    try:
        assert writing.wait(10)
        began = time.monotonic()
        assert events(store) == 0  # the writer has not committed
        assert time.monotonic() - began < 1.0
    finally:
        done.set()
        writer.join(20)
    assert events(store) == 1
