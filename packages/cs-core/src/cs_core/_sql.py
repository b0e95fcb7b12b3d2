"""Dialect-aware SQL building blocks: batched upserts and UTC day truncation."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import Date, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import QueryableAttribute, Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Insert, ReturningInsert
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

__all__ = ["CHUNK_SIZE", "UtcDay", "chunks", "insert_on_conflict", "upsert_on"]

_T = TypeVar("_T")

CHUNK_SIZE = 1000
"""Rows per round of statements: keeps every statement under SQLite's 32,766 parameters."""


def insert_on_conflict(
    session: Session,
    table: Table,
    key: Sequence[str],
    *,
    update: Iterable[str] | None,
) -> ReturningInsert[Any]:
    """``INSERT … ON CONFLICT (key) DO UPDATE`` the ``update`` columns, or ``DO NOTHING``.

    The statement returns the key columns (``DO NOTHING`` returns only the rows it inserted).
    Executed with a list of rows, ``RETURNING`` puts SQLAlchemy's "insertmanyvalues" mode to
    work on both dialects: one multi-row ``VALUES`` statement per page of up to 1,000 rows,
    never a statement per row.
    """
    return _upsert(session, table, key, update).returning(*(table.c[name] for name in key))


def _upsert(
    session: Session, table: Table, key: Sequence[str], update: Iterable[str] | None
) -> Insert:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        pg = postgresql.insert(table)
        if update is None:
            return pg.on_conflict_do_nothing(index_elements=list(key))
        return pg.on_conflict_do_update(
            index_elements=list(key), set_={name: pg.excluded[name] for name in update}
        )
    if dialect == "sqlite":
        lite = sqlite.insert(table)
        if update is None:
            return lite.on_conflict_do_nothing(index_elements=list(key))
        return lite.on_conflict_do_update(
            index_elements=list(key), set_={name: lite.excluded[name] for name in update}
        )
    raise NotImplementedError(f"no upsert for the {dialect} dialect")  # pragma: no cover


def chunks(items: Sequence[_T], size: int = CHUNK_SIZE) -> Iterator[Sequence[_T]]:
    """``items`` in consecutive slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def upsert_on(
    session: Session, table: Table, key: Sequence[str], rows: Sequence[dict[str, Any]]
) -> None:
    """Insert ``rows`` or update every non-key column of those already there, in one statement."""
    if not rows:
        return
    update = [name for name in rows[0] if name not in key]
    session.execute(insert_on_conflict(session, table, key, update=update), list(rows))


class UtcDay(FunctionElement[Any]):
    """The UTC calendar day of a timestamp column, as a DATE."""

    type = Date()
    inherit_cache = True
    name = "utc_day"

    def __init__(self, timestamp: ColumnElement[Any] | QueryableAttribute[Any]) -> None:
        super().__init__(timestamp)


@compiles(UtcDay, "sqlite")
def _utc_day_sqlite(element: UtcDay, compiler: SQLCompiler, **kw: Any) -> str:
    # The store writes UTC wall time on SQLite, so the date part is the UTC day.
    return f"date({compiler.process(element.clauses, **kw)})"


@compiles(UtcDay, "postgresql")
def _utc_day_postgresql(element: UtcDay, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(({compiler.process(element.clauses, **kw)} AT TIME ZONE 'UTC') AS DATE)"
