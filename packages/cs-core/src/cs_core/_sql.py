"""Dialect-aware SQL building blocks: bulk upserts and UTC day truncation."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from operator import itemgetter
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    Column,
    Date,
    Float,
    Row,
    Table,
    Text,
    bindparam,
    cast,
    column,
    func,
    select,
    tuple_,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import QueryableAttribute, Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

__all__ = [
    "CHUNK_SIZE",
    "Epoch",
    "UtcDay",
    "bulk_upsert",
    "chunks",
    "dialect_insert",
    "keys_in",
]

_T = TypeVar("_T")

CHUNK_SIZE = 1000
"""Rows per statement on SQLite: keeps every statement under its 32,766 parameters."""

POSTGRES_CHUNK_SIZE = 10_000
"""Rows per statement on PostgreSQL, where a statement takes one array per column."""


def chunks(items: Sequence[_T], size: int = CHUNK_SIZE) -> Iterator[Sequence[_T]]:
    """``items`` in consecutive slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def bulk_upsert(
    session: Session,
    table: Table,
    key: Sequence[str],
    rows: Iterable[Mapping[str, Any]],
    *,
    update: Iterable[str] | None = (),
    returning: Sequence[str] = (),
) -> list[Row[Any]]:
    """``INSERT … ON CONFLICT (key) DO UPDATE``, or ``DO NOTHING``, for many rows at once.

    ``update`` names the columns an existing row takes from the new one (default: every column
    but the key and ``created_at``); ``None`` keeps existing rows as they are. Of rows sharing a
    key, the last wins. Returns the ``returning`` columns of the rows written (with
    ``DO NOTHING``, only of those inserted).

    A constant number of statements per batch, never one round of SQLAlchemy work per row: on
    PostgreSQL each column travels as one array that ``unnest`` turns back into rows (10,000
    rows a statement), which spares the client from parsing a placeholder per value; on SQLite
    one prepared statement runs for every row in the driver's ``executemany`` (multi-row
    ``VALUES`` only where ``RETURNING`` must tell inserted rows apart).
    """
    identify = itemgetter(*key)
    unique = list({identify(row): row for row in rows}.values())
    if not unique:
        return []
    columns = list(unique[0])
    if update == ():
        update = [name for name in columns if name not in key and name != "created_at"]
    dialect = session.get_bind().dialect.name
    returned: list[Row[Any]] = []
    if dialect == "postgresql":
        arrays = select(*(_unnest(table.c[name]) for name in columns))
        pg = postgresql.insert(table).from_select(columns, arrays)
        statement = _on_conflict(pg, pg.excluded, key, update)
        for chunk in chunks(unique, POSTGRES_CHUNK_SIZE):
            parameters = {
                f"column_{name}": _column_values(table.c[name], chunk) for name in columns
            }
            returned += _execute(session, statement, table, returning, parameters)
        return returned
    if dialect == "sqlite":
        lite = sqlite.insert(table)
        statement = _on_conflict(lite, lite.excluded, key, update)
        if returning and update is None:
            # Only the rows inserted are to be returned: RETURNING tells them apart, and makes
            # SQLAlchemy batch rows into multi-row VALUES ("insertmanyvalues").
            for chunk in chunks(unique, CHUNK_SIZE):
                returned += _execute(session, statement, table, returning, list(chunk))
            return returned
        for chunk in chunks(unique, CHUNK_SIZE):
            _sqlite_executemany(session, statement, columns, chunk)
        return _sqlite_select_by_keys(session, table, key, returning, unique) if returning else []
    raise NotImplementedError(f"no bulk upsert for the {dialect} dialect")  # pragma: no cover


def _sqlite_executemany(
    session: Session, statement: Insert, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> None:
    """One prepared statement run for every row by the driver's ``executemany``.

    The values are converted by each column type's own bind processor, column by column, and
    handed over as tuples: SQLAlchemy's per-row parameter building would cost more than
    SQLite's work (multi-row ``VALUES`` even more, rendering a placeholder per value).
    """
    connection = session.connection()
    compiled = statement.compile(dialect=connection.dialect, column_keys=list(columns))
    names = compiled.positiontup or []
    # The types' own conversions (UTC datetimes, JSON, enums), as SQLAlchemy would apply them.
    processors: Mapping[str, Callable[[Any], Any]] = compiled._bind_processors  # type: ignore[assignment]
    converted: list[list[Any]] = []
    for name in names:
        values = map(itemgetter(name), rows)
        convert = processors.get(name)
        converted.append(list(values) if convert is None else [convert(v) for v in values])
    # Straight to the driver's executemany, still through the engine's events and logging.
    connection.exec_driver_sql(compiled.string, list(zip(*converted, strict=True)))


def _sqlite_select_by_keys(
    session: Session,
    table: Table,
    key: Sequence[str],
    returning: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
) -> list[Row[Any]]:
    """The ``returning`` columns of the rows with these keys."""
    identify = itemgetter(*key)
    found: list[Row[Any]] = []
    for chunk in chunks(rows, POSTGRES_CHUNK_SIZE):
        keys = [identify(row) if len(key) > 1 else (identify(row),) for row in chunk]
        condition = keys_in(session, [table.c[name] for name in key], keys)
        found += session.execute(select(*(table.c[name] for name in returning)).where(condition))
    return found


def keys_in(
    session: Session,
    columns: Sequence[ColumnElement[Any] | QueryableAttribute[Any]],
    keys: Sequence[Sequence[Any]],
) -> ColumnElement[bool]:
    """SQL: ``(columns) IN keys``, cheap to build for thousands of keys.

    A plain ``IN`` renders a placeholder per value, which costs more than the query itself at
    a thousand keys. On SQLite the keys travel as one JSON parameter read by ``json_each``; on
    PostgreSQL the plain form stays (its driver binds arrays of values cheaply).
    """
    if session.get_bind().dialect.name != "sqlite":
        return tuple_(*columns).in_([tuple(key) for key in keys])
    document = json.dumps([list(key) for key in keys], default=str)
    listed = select(
        *(func.json_extract(column("value"), f"$[{i}]") for i in range(len(columns)))
    ).select_from(func.json_each(bindparam("keys_document", document, literal_execute=False)))
    return tuple_(*columns).in_(listed)


def _unnest(column: Column[Any]) -> ColumnElement[Any]:
    """Rows of one column from one array parameter; JSON travels as text, cast back in SQL."""
    if isinstance(column.type, JSON):
        # An array of JSON values would be read as a multi-dimensional array: send text.
        values = bindparam(f"column_{column.name}", type_=ARRAY(Text()))
        return cast(func.unnest(values), column.type).label(column.name)
    values = bindparam(f"column_{column.name}", type_=ARRAY(column.type))
    return func.unnest(values).label(column.name)


def _column_values(column: Column[Any], rows: Sequence[Mapping[str, Any]]) -> list[Any]:
    if isinstance(column.type, JSON):
        return [None if row[column.name] is None else json.dumps(row[column.name]) for row in rows]
    return [row[column.name] for row in rows]


def dialect_insert(session: Session, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An ``INSERT`` of the session's dialect, which knows ``ON CONFLICT``."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no upsert for the {dialect} dialect")  # pragma: no cover


def _on_conflict(
    insert: postgresql.Insert | sqlite.Insert,
    excluded: Any,
    key: Sequence[str],
    update: Iterable[str] | None,
) -> Insert:
    if update is None:
        return insert.on_conflict_do_nothing(index_elements=list(key))
    return insert.on_conflict_do_update(
        index_elements=list(key), set_={name: excluded[name] for name in update}
    )


def _execute(
    session: Session,
    statement: Insert,
    table: Table,
    returning: Sequence[str],
    parameters: Any,
) -> list[Row[Any]]:
    if returning:
        return list(
            session.execute(statement.returning(*(table.c[name] for name in returning)), parameters)
        )
    session.execute(statement, parameters)
    return []


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


class Epoch(FunctionElement[Any]):
    """Seconds since 1970 of a timestamp column, as a float, on both dialects."""

    type = Float()
    inherit_cache = True
    name = "epoch"

    def __init__(self, timestamp: ColumnElement[Any] | QueryableAttribute[Any]) -> None:
        super().__init__(timestamp)


@compiles(Epoch, "sqlite")
def _epoch_sqlite(element: Epoch, compiler: SQLCompiler, **kw: Any) -> str:
    return f"((julianday({compiler.process(element.clauses, **kw)}) - 2440587.5) * 86400.0)"


@compiles(Epoch, "postgresql")
def _epoch_postgresql(element: Epoch, compiler: SQLCompiler, **kw: Any) -> str:
    return f"EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)})"
