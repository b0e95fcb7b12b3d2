"""Connector syncs over the API: started by ``startSync``, followed by ``syncRun``/``syncRuns``.

``startSync`` answers as soon as cs-core has recorded the run (see ``_background``); what the
store records of it, each stream as it finishes and the run's status when all have, is what
``syncRun`` shows.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Annotated

import strawberry
from anyio import to_thread
from sqlalchemy import select

from cs_core import (
    ConfigurationError,
    Connector,
    CSError,
    Store,
    SyncRun,
    SyncRunStream,
    installed_connectors,
)
from cs_server._context import Info
from cs_server._pages import check_page_size
from cs_server._results import ConnectorNotConfigured, ConnectorNotFound, Rejected

__all__ = ["SyncResult", "start_sync", "sync_run", "sync_runs"]


@strawberry.type(description="What a sync did with one stream.")
class SyncStream:
    stream: str
    status: str = strawberry.field(description="succeeded or failed.")
    read: int
    written: int
    deleted: int = strawberry.field(description="Records removed because the source deleted them.")
    quarantined: int = strawberry.field(description="Records set aside as invalid, with why.")
    retries: int
    error: str | None
    started_at: datetime
    finished_at: datetime

    @classmethod
    def of(cls, row: SyncRunStream) -> SyncStream:
        return cls(stream=row.stream, status=row.status, read=row.records_read,
                   written=row.records_written, deleted=row.records_deleted,
                   quarantined=row.records_quarantined, retries=row.retries, error=row.error,
                   started_at=row.started_at, finished_at=row.finished_at)  # fmt: skip


@strawberry.type(
    description="A sync run as the store records it. A failed stream keeps what it committed "
    "and does not stop the others; the next sync resumes where it stopped."
)
class SyncRunReport:
    run_id: int = strawberry.field(description="The sync run's number in the store.")
    connector: str
    full_refresh: bool
    status: str = strawberry.field(
        description="running, succeeded, or failed when a stream failed."
    )
    started_at: datetime
    finished_at: datetime | None
    streams: list[SyncStream] = strawberry.field(description="The streams finished so far.")

    @strawberry.field(description="Records read by the streams finished so far.")
    def records_read(self) -> int:
        return sum(stream.read for stream in self.streams)


@strawberry.type(
    description="The sync has started and goes on after this answer: follow it with "
    "`syncRun(runId)`."
)
class SyncStarted:
    run: SyncRunReport


SyncResult = Annotated[
    SyncStarted | ConnectorNotFound | ConnectorNotConfigured | Rejected,
    strawberry.union("SyncResult"),
]


def _read(
    store: Store, first: int, *, connector: str | None = None, run_id: int | None = None
) -> list[SyncRunReport]:
    """The newest ``first`` runs (of ``connector``, or the run ``run_id``) with their streams."""
    query = select(SyncRun).order_by(SyncRun.id.desc()).limit(first)
    if connector is not None:
        query = query.where(SyncRun.connector == connector)
    if run_id is not None:
        query = query.where(SyncRun.id == run_id)
    with store.transaction(read_only=True) as session:
        runs = list(session.scalars(query))
        streams: dict[int, list[SyncStream]] = {run.id: [] for run in runs}
        rows = session.scalars(
            select(SyncRunStream).where(SyncRunStream.run_id.in_(streams))
            .order_by(SyncRunStream.run_id, SyncRunStream.started_at)
        )  # fmt: skip
        for row in rows:
            streams[row.run_id].append(SyncStream.of(row))
        return [SyncRunReport(run_id=run.id, connector=run.connector,
                              full_refresh=run.full_refresh, status=run.status,
                              started_at=run.started_at, finished_at=run.finished_at,
                              streams=streams[run.id])
                for run in runs]  # fmt: skip


def _configured(name: str) -> Connector | ConnectorNotFound | ConnectorNotConfigured:
    """The installed connector ``name`` configured from the server's environment, or why not."""
    try:
        connector = installed_connectors().get(name)
    except ConfigurationError as error:
        return ConnectorNotFound(message=str(error))
    try:
        return connector.from_environment()
    except ConfigurationError as error:
        return ConnectorNotConfigured(message=str(error))


async def start_sync(
    info: Info,
    connector: Annotated[str, strawberry.argument(description="An installed connector's name.")],
    streams: Annotated[
        list[str] | None, strawberry.argument(description="Only these; default: all of them.")
    ] = None,
    full_refresh: Annotated[
        bool, strawberry.argument(description="Read every stream from the start.")
    ] = False,
) -> SyncResult:
    store = info.context.store
    configured = await to_thread.run_sync(_configured, connector)
    if not isinstance(configured, Connector):
        return configured
    try:
        run_id = await info.context.syncs.start(store, configured, streams, full_refresh)
    except CSError as error:
        return Rejected(message=str(error))
    [run] = await to_thread.run_sync(partial(_read, store, 1, run_id=run_id))
    return SyncStarted(run=run)


async def sync_run(info: Info, run_id: int) -> SyncRunReport | None:
    found = await to_thread.run_sync(partial(_read, info.context.store, 1, run_id=run_id))
    return found[0] if found else None


async def sync_runs(
    info: Info,
    first: int = 20,
    connector: Annotated[
        str | None, strawberry.argument(description="Only this connector's runs.")
    ] = None,
) -> list[SyncRunReport]:
    check_page_size(first)
    return await to_thread.run_sync(partial(_read, info.context.store, first, connector=connector))
