"""One runner at a time across processes and hosts, for work that must not overlap."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import func, select

from cs_core._store import Store

__all__ = ["exclusively"]


@contextmanager
def exclusively(store: Store, name: str) -> Iterator[bool]:
    """Hold the lock ``name`` while the block runs; yields whether it was free.

    On PostgreSQL this is a session advisory lock, shared by every process and host on the
    database, released when the block ends (or the connection drops). SQLite has one writer, and
    its deployments one process: there the lock is always granted.
    """
    if store.dialect != "postgresql":
        yield True
        return
    key = func.hashtext(f"cs:{name}")
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        if not connection.scalar(select(func.pg_try_advisory_lock(key))):
            yield False
            return
        try:
            yield True
        finally:
            connection.execute(select(func.pg_advisory_unlock(key)))
