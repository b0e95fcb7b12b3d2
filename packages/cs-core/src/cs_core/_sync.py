"""The sync engine: a connector's streams into the store, with nothing lost or duplicated.

For each stream the engine reads from the stored cursor state and writes in batches. A batch is
committed in one transaction together with the checkpoint that covers it, so a process killed at
any moment resumes from the last committed checkpoint: the records after it are read again and
upserted by ``(source, external_id)``, which rewrites, never duplicates. A batch that fills up
before a checkpoint is committed on its own (its records will simply be upserted again).

A record that fails validation, or cannot be tied to what it names, goes to the quarantine with
its source payload and the reason; the batch is written without it. A :class:`TransientError`
(timeouts, 429, 5xx) restarts the stream from its last checkpoint with exponential backoff and
jitter, honouring ``Retry-After``, a bounded number of times. A stream that fails keeps what it
committed and does not stop the others. Every run and stream is recorded.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from cs_core._connectors import (
    Candidate,
    Checkpoint,
    Connector,
    ConnectorError,
    Deletion,
    Stream,
    StreamItem,
    TransientError,
)
from cs_core._errors import InvalidRecordError
from cs_core._locks import exclusively
from cs_core._records import Record
from cs_core._sql import dialect_insert
from cs_core._store import Store
from cs_core._tables import QuarantinedRecord, SyncRun, SyncRunStream, SyncState
from cs_core._usage import DailyUsage, write_daily_usage
from cs_core._writes import delete_records, write_records

__all__ = ["StreamReport", "SyncReport", "sync", "sync_state"]


@dataclass
class StreamReport:
    """What a sync did with one stream."""

    stream: str
    status: str = "running"
    """``succeeded`` or ``failed``."""
    read: int = 0
    written: int = 0
    deleted: int = 0
    """Records removed because the source deleted them."""
    quarantined: int = 0
    retries: int = 0
    error: str | None = None


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What a sync of one connector did."""

    run_id: int
    connector: str
    full_refresh: bool
    streams: tuple[StreamReport, ...]
    seconds: float

    @property
    def failed(self) -> bool:
        return any(stream.status == "failed" for stream in self.streams)

    @property
    def read(self) -> int:
        return sum(stream.read for stream in self.streams)

    @property
    def records_per_second(self) -> float:
        return self.read / self.seconds if self.seconds else 0.0


def sync_state(store: Store, connector: str, stream: str) -> Mapping[str, Any] | None:
    """The committed cursor state of a stream (``None``: never synced)."""
    with store.transaction() as session:
        row = session.get(SyncState, (connector, stream))
        return None if row is None else dict(row.state)


def sync(
    store: Store,
    connector: Connector,
    *,
    streams: Sequence[str] | None = None,
    full_refresh: bool = False,
    batch_size: int = 1000,
    attempts: int = 5,
    max_wait: float = 60.0,
    on_progress: Callable[[str, int], None] | None = None,
    on_started: Callable[[int], None] | None = None,
) -> SyncReport:
    """Sync ``connector``'s streams (default: all of them, in order) into ``store``.

    ``full_refresh`` reads every stream from the start (the state is replaced as it goes);
    ``on_progress(stream, records_read)`` is called after every batch; ``on_started(run_id)``
    once the run is recorded, before the first stream is read (the streams were checked by
    then: a caller can report the run as started and leave the sync to go on).
    """
    available = {stream.name: stream for stream in connector.streams()}
    chosen = list(available) if streams is None else list(streams)
    unknown = [name for name in chosen if name not in available]
    if unknown:
        raise ConnectorError(
            f"connector {connector.name!r} has no stream {', '.join(map(repr, unknown))}; "
            f"its streams: {', '.join(available)}"
        )
    store.check_ready()
    started = time.perf_counter()
    with store.transaction() as session:
        run = SyncRun(connector=connector.name, full_refresh=full_refresh,
                      started_at=datetime.now(UTC), status="running")  # fmt: skip
        session.add(run)
        session.flush()
        run_id = run.id
    if on_started is not None:
        on_started(run_id)
    reports = []
    for name in chosen:
        began = datetime.now(UTC)
        report = _sync_stream(store, connector, available[name], run_id, full_refresh,
                              batch_size, attempts, max_wait, on_progress)  # fmt: skip
        reports.append(report)
        with store.transaction() as session:
            session.add(SyncRunStream(
                run_id=run_id, stream=name, status=report.status, records_read=report.read,
                records_written=report.written, records_deleted=report.deleted,
                records_quarantined=report.quarantined,
                retries=report.retries, error=report.error and report.error[:2000],
                started_at=began, finished_at=datetime.now(UTC)))  # fmt: skip
    outcome = SyncReport(run_id, connector.name, full_refresh, tuple(reports),
                         time.perf_counter() - started)  # fmt: skip
    with store.transaction() as session:
        finished = session.get_one(SyncRun, run_id)
        finished.finished_at = datetime.now(UTC)
        finished.status = "failed" if outcome.failed else "succeeded"
    return outcome


@contextmanager
def _one_runner(store: Store, connector: str, stream: str) -> Iterator[None]:
    """Fail the stream if another sync of it is running (on PostgreSQL; see :func:`exclusively`).

    (SQLite has one writer; two processes syncing one stream there interleave their batches,
    which the upserts make harmless, but the state of the last to commit wins.)
    """
    with exclusively(store, f"sync:{connector}:{stream}") as free:
        if not free:
            raise ConnectorError(
                f"another sync of {connector}.{stream} is running: wait for it to finish"
            )
        yield


def _wait(state: RetryCallState, *, backoff: wait_exponential_jitter, cap: float) -> float:
    error = state.outcome.exception() if state.outcome else None
    if isinstance(error, TransientError) and error.retry_after is not None:
        return min(error.retry_after, cap)
    return float(backoff(state))


def _sync_stream(
    store: Store,
    connector: Connector,
    stream: Stream,
    run_id: int,
    full_refresh: bool,
    batch_size: int,
    attempts: int,
    max_wait: float,
    on_progress: Callable[[str, int], None] | None,
) -> StreamReport:
    report = StreamReport(stream.name)
    backoff = wait_exponential_jitter(multiplier=0.5, max=max_wait)
    fresh = full_refresh
    try:
        with _one_runner(store, connector.name, stream.name):
            for attempt in Retrying(
                retry=retry_if_exception_type(TransientError),
                stop=stop_after_attempt(attempts),
                wait=lambda state: _wait(state, backoff=backoff, cap=max_wait),
                reraise=True,
            ):
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        report.retries += 1
                    state = None if fresh else sync_state(store, connector.name, stream.name)
                    _read(store, connector, stream, state, run_id, batch_size, report, on_progress)
                    fresh = False  # a retry resumes from what this attempt committed
    except TransientError as error:
        report.status, report.error = "failed", f"{error} (after {attempts} attempts)"
    except ConnectorError as error:
        report.status, report.error = "failed", str(error)
    except Exception as error:
        report.status, report.error = "failed", f"{type(error).__name__}: {error}"
    else:
        report.status = "succeeded"
    return report


def _read(
    store: Store,
    connector: Connector,
    stream: Stream,
    state: Mapping[str, Any] | None,
    run_id: int,
    batch_size: int,
    report: StreamReport,
    on_progress: Callable[[str, int], None] | None,
) -> None:
    pending: list[StreamItem] = []
    for item in _read_ahead(stream.read(state), batch_size):
        if isinstance(item, Checkpoint):
            _commit(store, connector, stream, pending, item.state, run_id, report)
            pending = []
        else:
            pending.append(item)
            report.read += 1
            if len(pending) >= batch_size:
                _commit(store, connector, stream, pending, None, run_id, report)
                pending = []
                if on_progress is not None:
                    on_progress(stream.name, report.read)
    _commit(store, connector, stream, pending, None, run_id, report)
    if on_progress is not None:
        on_progress(stream.name, report.read)


_DONE = object()


def _read_ahead(items: Iterator[StreamItem], batch_size: int) -> Iterator[StreamItem]:
    """``items``, read by a thread of their own while the caller writes what came before.

    The source's waits (network, parsing) then overlap the store's. At most two batches wait
    in between, so memory stays bounded; an error of the reader is raised here, in order, after
    the items it read before failing; stopping early stops the reader at its next item.
    """
    handoff: queue.Queue[list[StreamItem] | BaseException | object] = queue.Queue(maxsize=2)
    stopped = threading.Event()

    def produce() -> None:
        batch: list[StreamItem] = []
        try:
            for item in items:
                batch.append(item)
                if isinstance(item, Checkpoint) or len(batch) >= batch_size:
                    handoff.put(batch)
                    batch = []
                if stopped.is_set():
                    return
            handoff.put(batch)
            handoff.put(_DONE)
        except BaseException as error:  # handed to the consumer, which raises it
            handoff.put(batch)
            handoff.put(error)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    reader = threading.Thread(target=produce, name="cs-sync-reader", daemon=True)
    reader.start()
    try:
        while True:
            received = handoff.get()
            if received is _DONE:
                return
            if isinstance(received, BaseException):
                raise received
            yield from received  # type: ignore[misc]
    finally:
        stopped.set()
        while reader.is_alive():  # unblock a reader waiting for room, then let it finish
            with contextlib.suppress(queue.Empty):
                handoff.get(timeout=0.05)
        reader.join()


def _commit(
    store: Store,
    connector: Connector,
    stream: Stream,
    items: Sequence[StreamItem],
    state: Mapping[str, Any] | None,
    run_id: int,
    report: StreamReport,
) -> None:
    """One transaction: the batch's records and deletions, its quarantined rejects, and the
    new state. Of two items about one record, the later wins (updated, then deleted: gone)."""
    if not items and state is None:
        return
    records: dict[tuple[type[Record], str, str], Record] = {}
    deletions: dict[tuple[type[Record], str, str], Deletion] = {}
    usage: list[DailyUsage] = []
    rejected: list[tuple[str, Mapping[str, Any], str, str]] = []
    for item in items:
        match item:
            case Candidate():
                try:
                    record = item.model.model_validate(dict(item.fields))
                except ValidationError as error:
                    rejected.append((item.model.kind, item.payload, _reason(error),
                                     _key(item.model.kind, item.fields, item.payload)))  # fmt: skip
                else:
                    key = (type(record), record.source, record.external_id)
                    deletions.pop(key, None)
                    records[key] = record
            case Deletion():
                key = (item.model, item.source, item.external_id)
                records.pop(key, None)
                deletions[key] = item
            case DailyUsage():
                usage.append(item)
            case Record():
                key = (type(item), item.source, item.external_id)
                deletions.pop(key, None)
                records[key] = item
    with store.transaction() as session:
        report.written += _write(session, list(records.values()), usage, rejected)
        report.deleted += _delete(session, deletions.values())
        for kind, payload, reason, record_key in rejected:
            session.execute(
                dialect_insert(session, QuarantinedRecord.__table__)  # type: ignore[arg-type]
                .values(connector=connector.name, stream=stream.name, record_key=record_key[:255],
                        kind=kind, payload=_json_safe(payload), reason=reason[:4000],
                        run_id=run_id, quarantined_at=datetime.now(UTC))
                .on_conflict_do_update(
                    index_elements=["connector", "stream", "record_key"],
                    set_={"payload": _json_safe(payload), "reason": reason[:4000],
                          "run_id": run_id, "quarantined_at": datetime.now(UTC)},
                )
            )  # fmt: skip
        report.quarantined += len(rejected)
        if state is not None:
            session.merge(SyncState(connector=connector.name, stream=stream.name,
                                    state=dict(state), updated_at=datetime.now(UTC)))  # fmt: skip


def _write(
    session: Session,
    records: list[Record],
    usage: list[DailyUsage],
    rejected: list[tuple[str, Mapping[str, Any], str, str]],
) -> int:
    """Write what can be written; what the store refuses joins ``rejected``. Returns the count."""
    while True:
        try:
            with session.begin_nested():
                if records:
                    write_records(session, records)
                if usage:
                    write_daily_usage(session, usage)
            return len(records) + len(usage)
        except InvalidRecordError as error:
            refused = {problem.record: str(problem) for problem in error.problems}
            kept_records = [r for r in records if r.label not in refused]
            kept_usage = [u for u in usage if _usage_label(u) not in refused]
            if len(kept_records) + len(kept_usage) == len(records) + len(usage):
                raise  # a problem this engine cannot pin on a record: a bug, not data
            rejected.extend(
                (r.kind, r.model_dump(mode="json"), refused[r.label], f"{r.kind}:{r.external_id}")
                for r in records if r.label in refused
            )  # fmt: skip
            rejected.extend(
                ("daily usage", {"account": str(u.account), "day": u.day.isoformat(),
                                 "active_users": u.active_users, "events": u.events},
                 refused[_usage_label(u)], _usage_label(u))
                for u in usage if _usage_label(u) in refused
            )  # fmt: skip
            records, usage = kept_records, kept_usage


def _delete(session: Session, deletions: Iterable[Deletion]) -> int:
    by_model: dict[type[Record], list[tuple[str, str]]] = {}
    for deletion in deletions:
        by_model.setdefault(deletion.model, []).append((deletion.source, deletion.external_id))
    return sum(delete_records(session, model, keys) for model, keys in by_model.items())


def _usage_label(row: DailyUsage) -> str:
    return f"daily usage {row.account} {row.day.isoformat()}"


def _reason(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in problem['loc']) or '(record)'}: {problem['msg']}"
        for problem in error.errors()
    )


def _key(kind: str, fields: Mapping[str, Any], payload: Mapping[str, Any]) -> str:
    external_id = fields.get("external_id")
    if external_id:
        return f"{kind}:{external_id}"
    digest = hashlib.sha256(json.dumps(_json_safe(payload), sort_keys=True).encode()).hexdigest()
    return f"{kind}:sha256:{digest[:32]}"


def _json_safe(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload as JSON would carry it (dates and decimals as text)."""
    safe: dict[str, Any] = json.loads(json.dumps(dict(payload), default=str))
    return safe
