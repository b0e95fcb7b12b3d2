"""The sync engine: batches with their checkpoints, quarantine, retries, failures kept apart,
and a sync killed at any moment that resumes to exactly what an uninterrupted one stores."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from cs_core import (
    AccountRecord,
    ConfigurationError,
    ConnectorError,
    ConnectorSettings,
    CursorTracker,
    PageGuard,
    PaginationError,
    QuarantinedRecord,
    Store,
    SyncRun,
    SyncRunStream,
    Ticket,
    TransientError,
    connector_registry,
    exclusively,
    hookimpl,
    plugin_manager,
    sync,
    sync_state,
)

from .fake_source import FakeConnector, FakeSettings, Tickets

TICKETS = 100
BAD = [i for i in range(TICKETS) if i % 37 == 36]  # priority "p9": quarantined


def fake(**settings: Any) -> FakeConnector:
    return FakeConnector(FakeSettings(**settings))


def count(store: Store, model: type) -> int:
    with store.transaction(read_only=True) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture(autouse=True)
def _fresh_failures() -> None:
    Tickets.failed_once.clear()


def test_a_sync_stores_everything_once_and_keeps_its_cursor(store: Store) -> None:
    report = sync(store, fake(), batch_size=7)
    assert [(s.stream, s.status, s.read, s.written, s.quarantined) for s in report.streams] == [
        ("accounts", "succeeded", 30, 30, 0),
        ("tickets", "succeeded", TICKETS, TICKETS - len(BAD), len(BAD)),
    ]
    assert count(store, Ticket) == TICKETS - len(BAD)
    assert sync_state(store, "fake", "accounts") == {"next": 30}
    assert sync_state(store, "fake", "tickets") == {"cursor": "000033", "seen_at_cursor": ["T99"]}
    # Incremental: the cursor's own tickets are read again (>=) and dropped as seen.
    again = sync(store, fake())
    assert [(s.read, s.written) for s in again.streams] == [(0, 0), (0, 0)]
    assert count(store, Ticket) == TICKETS - len(BAD)


def test_on_started_hears_of_the_run_once_recorded_and_before_any_stream(store: Store) -> None:
    heard: list[tuple[int, str, int]] = []

    def started(run_id: int) -> None:
        with store.transaction(read_only=True) as session:
            run = session.get_one(SyncRun, run_id)
            heard.append((run_id, run.status, count(store, SyncRunStream)))

    report = sync(store, fake(), on_started=started)
    assert heard == [(report.run_id, "running", 0)]
    with pytest.raises(ConnectorError, match="has no stream 'nope'"):
        sync(store, fake(), streams=["nope"], on_started=started)
    assert len(heard) == 1


def test_bad_records_are_quarantined_with_their_payload(store: Store) -> None:
    sync(store, fake())
    with store.transaction() as session:
        rows = session.execute(
            select(QuarantinedRecord.record_key, QuarantinedRecord.payload,
                   QuarantinedRecord.reason).order_by(QuarantinedRecord.id)
        ).all()  # fmt: skip
    assert [key for key, _, _ in rows] == [f"ticket:T{i}" for i in BAD]
    assert rows[0][1] == {"id": "T36", "org": "A6", "priority": "p9"}
    assert rows[0][2].startswith("priority: Input should be 'p1', 'p2', 'p3' or 'p4'")
    sync(store, fake(), full_refresh=True)
    assert count(store, QuarantinedRecord) == len(BAD)  # the same rejects, not twice


def test_a_record_naming_an_unknown_account_is_quarantined(store: Store) -> None:
    class Orphans(FakeConnector):
        def streams(self) -> list[Any]:
            return [Merge(self.fake_settings)]

    class Merge(Tickets):
        name = "merge"

        def read(self, state: Any) -> Any:
            yield AccountRecord(source="fake", external_id="ok", name="Ok", segment="smb",
                                lifecycle_stage="success")  # fmt: skip
            unknown = {"source": "crm", "external_id": "404"}
            yield AccountRecord(source="fake", external_id="dup", name="Dup", segment="smb",
                                lifecycle_stage="success", same_as=unknown)  # fmt: skip

    (report,) = sync(store, Orphans(FakeSettings())).streams
    assert (report.status, report.written, report.quarantined) == ("succeeded", 1, 1)
    with store.transaction() as session:
        (reason,) = session.scalars(select(QuarantinedRecord.reason))
    assert "same_as" in reason


def test_a_transient_failure_resumes_from_the_checkpoint(store: Store) -> None:
    report = sync(store, fake(fail_at=55, retry_after=0), streams=["accounts", "tickets"])
    tickets = report.streams[1]
    assert (tickets.status, tickets.retries) == ("succeeded", 1)
    # Read up to 55, then again from the checkpoint at 50: only those five twice.
    assert tickets.read == TICKETS + 5
    assert count(store, Ticket) == TICKETS - len(BAD)


def test_a_stream_that_keeps_failing_fails_alone(store: Store) -> None:
    class Down(Tickets):
        def read(self, state: Any) -> Any:
            raise TransientError("the fake source answered 503", retry_after=0)

    class Partly(FakeConnector):
        def streams(self) -> list[Any]:
            return [*super().streams()[:1], Down(self.fake_settings)]

    report = sync(store, Partly(FakeSettings()), attempts=3)
    assert [(s.stream, s.status, s.retries) for s in report.streams] == [
        ("accounts", "succeeded", 0), ("tickets", "failed", 2),
    ]  # fmt: skip
    assert report.streams[1].error == "the fake source answered 503 (after 3 attempts)"
    assert count(store, SyncRunStream) == 2
    with store.transaction() as session:
        assert session.scalar(select(SyncRun.status)) == "failed"


def test_a_connector_bug_fails_its_stream_and_the_run_is_finished(store: Store) -> None:
    class Broken(Tickets):
        def read(self, state: Any) -> Any:
            raise KeyError("organization_id")

    class Buggy(FakeConnector):
        def streams(self) -> list[Any]:
            return [Broken(self.fake_settings), *super().streams()[:1]]

    report = sync(store, Buggy(FakeSettings()))
    assert [(s.stream, s.status, s.error) for s in report.streams] == [
        ("tickets", "failed", "KeyError: 'organization_id'"), ("accounts", "succeeded", None),
    ]  # fmt: skip
    with store.transaction() as session:
        assert session.scalar(select(SyncRun.status)) == "failed"


def test_a_paginator_that_repeats_fails_the_stream(store: Store) -> None:
    report = sync(store, fake(repeat_page=True))
    tickets = report.streams[1]
    assert tickets.status == "failed"
    assert tickets.error == (
        "fake tickets: the source returned the page cursor 'same' twice; stopping rather than "
        "reading the same pages forever"
    )
    assert report.streams[0].status == "succeeded"
    assert count(store, Ticket) == 10  # what was committed before it is kept


def test_one_runner_per_stream_on_postgresql(store: Store) -> None:
    if store.dialect != "postgresql":
        pytest.skip("SQLite has one writer; the lock is PostgreSQL's")
    with exclusively(store, "sync:fake:tickets") as free:  # as another sync of fake.tickets
        assert free
        report = sync(store, fake())
    assert [(s.stream, s.status) for s in report.streams] == [
        ("accounts", "succeeded"), ("tickets", "failed"),
    ]  # fmt: skip
    assert report.streams[1].error == (
        "another sync of fake.tickets is running: wait for it to finish"
    )
    assert sync(store, fake()).streams[1].status == "succeeded"


def test_an_unknown_stream_is_named(store: Store) -> None:
    with pytest.raises(ConnectorError, match="no stream 'deals'; its streams: accounts, tickets"):
        sync(store, fake(), streams=["deals"])


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CS_FAKE_TICKETS", "5")
    connector = FakeConnector.from_environment()
    assert isinstance(connector.settings, FakeSettings)
    assert connector.settings.tickets == 5
    monkeypatch.setenv("CS_FAKE_TICKETS", "many")
    with pytest.raises(ConfigurationError, match="connector 'fake' is not configured: "
                       "CS_FAKE_TICKETS: Input should be a valid integer"):  # fmt: skip
        FakeConnector.from_environment()


def test_cursor_ties_and_page_guard() -> None:
    cursor = CursorTracker.from_state({"cursor": "5", "seen_at_cursor": ["a"]})
    answers = [cursor.is_new("5", "a"), cursor.is_new("5", "b"), cursor.is_new("4", "z"),
               cursor.is_new("6", "c"), cursor.is_new("6", "c")]  # fmt: skip
    assert answers == [False, True, False, True, False]
    assert cursor.state == {"cursor": "6", "seen_at_cursor": ["c"]}
    guard = PageGuard("pages")
    guard.next("1")
    with pytest.raises(PaginationError, match="cursor '1' twice"):
        guard.next("1")


class _Plugin:
    @hookimpl
    def cs_register_connectors(self, register: Any) -> None:
        register(FakeConnector)


class _Broken:
    @hookimpl
    def cs_register_connectors(self, register: Any) -> None:
        register(dict)


def test_connectors_arrive_through_the_hook_and_are_checked() -> None:
    manager = plugin_manager(load_entry_points=False)
    manager.register(_Plugin(), name="fake-plugin")
    registry = connector_registry(manager)
    assert registry.get("fake") is FakeConnector
    assert registry.owners["fake"] == "fake-plugin"
    with pytest.raises(ConfigurationError,
                       match=r"no connector .nope. is installed; known: demo, fake$"):  # fmt: skip
        registry.get("nope")
    manager = plugin_manager(load_entry_points=False)
    manager.register(_Broken(), name="broken")
    with pytest.raises(ConfigurationError, match=r"plugin 'broken' registered .* not a Connector"):
        connector_registry(manager)


# Killed with SIGKILL mid-stream, then run again: the same store as a run never interrupted.

RUNNER = """
import sys
sys.path.insert(0, {tests!r})
from cs_core import Store, sync
from cs_core_fake_source import FakeConnector
sync(Store({url!r}), FakeConnector.from_environment(), batch_size=4)
"""


def _run(url: str, tests: Path, pause: float) -> subprocess.Popen[bytes]:
    environment = os.environ | {"CS_FAKE_TICKETS": "300", "CS_FAKE_PAUSE": str(pause),
                                "CS_FAKE_CHECKPOINT_EVERY": "7"}  # fmt: skip
    return subprocess.Popen([sys.executable, "-c", RUNNER.format(tests=str(tests), url=url)],
                            env=environment)  # fmt: skip


def _contents(store: Store) -> dict[str, list[Any]]:
    """What the store holds, by the sources' keys: surrogate ids are left out, since sequences
    on PostgreSQL skip the values a killed transaction took."""
    queries = {
        "accounts": "SELECT source, external_id, name FROM accounts",
        "tickets": "SELECT t.source, t.external_id, a.external_id, t.priority, t.opened_at "
        "FROM tickets t LEFT JOIN accounts a ON a.id = t.account_id",
        "account_identities": "SELECT i.source, i.external_id, a.external_id, i.method "
        "FROM account_identities i JOIN accounts a ON a.id = i.account_id",
        "quarantined_records": "SELECT connector, stream, record_key, payload, reason "
        "FROM quarantined_records",
        "sync_state": "SELECT connector, stream, state FROM sync_state",
    }
    with store.transaction() as session:
        return {
            table: sorted((tuple(row) for row in session.execute(text(query))), key=repr)
            for table, query in queries.items()
        }


@pytest.mark.parametrize("kill_after_commits", [3, 20])
def test_a_sync_killed_mid_stream_resumes_to_the_same_store(
    store_factory: Callable[[], Store], tmp_path: Path, kill_after_commits: int
) -> None:
    module_dir = tmp_path / "modules"
    module_dir.mkdir()
    (module_dir / "cs_core_fake_source.py").write_text(
        (Path(__file__).parent / "fake_source.py").read_text()
    )
    interrupted, reference = store_factory(), store_factory()

    killed = _run(str(interrupted.engine.url.render_as_string(hide_password=False)), module_dir,
                  pause=0.002)  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with interrupted.transaction() as session:
            stored = session.scalar(select(func.count()).select_from(Ticket)) or 0
        if stored >= kill_after_commits * 4:
            break
        time.sleep(0.01)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert count(interrupted, Ticket) < 300  # it really was cut short
    for store, pause in ((interrupted, 0.0), (reference, 0.0)):
        finished = _run(str(store.engine.url.render_as_string(hide_password=False)), module_dir,
                        pause)  # fmt: skip
        assert finished.wait(timeout=120) == 0
    assert _contents(interrupted) == _contents(reference)


def test_a_connector_refuses_settings_of_another_kind() -> None:
    with pytest.raises(ConfigurationError) as wrong:
        FakeConnector(ConnectorSettings())
    assert str(wrong.value) == "connector 'fake' takes FakeSettings, not ConnectorSettings"
    with pytest.raises(ConfigurationError) as other:
        fake().settings_as(_OtherSettings)
    assert str(other.value) == "connector 'fake' has FakeSettings, not _OtherSettings"


class _OtherSettings(ConnectorSettings):
    """Settings of some other connector."""
