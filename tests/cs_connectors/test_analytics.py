"""The analytics connector: Segment, Mixpanel and Amplitude exports as usage events."""

from __future__ import annotations

import gzip
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from cs_connectors import AnalyticsConnector, AnalyticsSettings
from cs_core import (
    AccountRecord,
    ConnectorError,
    QuarantinedRecord,
    Store,
    UsageDaily,
    UsageEvent,
    sync,
)


def _lines(rows: list[Any]) -> str:
    return "\n".join(row if isinstance(row, str) else json.dumps(row) for row in rows) + "\n"


@pytest.fixture
def accounts(store: Store) -> Store:
    store.write([AccountRecord(source="crm", external_id="A", name="A", segment="smb",
                               lifecycle_stage="success")])  # fmt: skip
    return store


def _events(store: Store) -> list[tuple[Any, ...]]:
    with store.transaction() as session:
        return [tuple(row) for row in session.execute(
            select(UsageEvent.external_id, UsageEvent.event, UsageEvent.user_id,
                   UsageEvent.account_id).order_by(UsageEvent.external_id))]  # fmt: skip


def test_segment_exports(accounts: Store, tmp_path: Path) -> None:
    track = {"type": "track", "messageId": "m1", "userId": "u1", "event": "workflow_run",
             "timestamp": "2026-11-02T10:00:00Z", "context": {"groupId": "A"}}  # fmt: skip
    (tmp_path / "2026-11-02.jsonl").write_text(_lines(
        [track, track, track | {"messageId": "m2", "userId": "u2"}, "{not json",
         {"type": "track", "userId": "u3", "timestamp": "2026-11-02T11:00:00Z"}]))  # fmt: skip
    connector = AnalyticsConnector(AnalyticsSettings(path=tmp_path, account_source="crm"))
    connector.check()
    (report,) = sync(accounts, connector).streams
    assert (report.read, report.quarantined) == (5, 2)
    assert _events(accounts) == [("m1", "workflow_run", "u1", 1), ("m2", "workflow_run", "u2", 1)]
    with accounts.transaction() as session:
        assert session.scalar(select(UsageDaily.active_users)) == 2
        payloads = session.scalars(select(QuarantinedRecord.payload)).all()
    assert {"line": "{not json", "error": "Expecting property name enclosed in double quotes: "
            "line 1 column 2 (char 1)"} in payloads  # fmt: skip
    assert [s.read for s in sync(accounts, connector).streams] == [0]  # the file is done


def test_mixpanel_exports_deduplicate_on_insert_id(accounts: Store, tmp_path: Path) -> None:
    properties = {"time": 1793613600, "distinct_id": "u1", "$insert_id": "x1", "company_id": "A"}
    event = {"event": "report_viewed", "properties": properties}
    path = tmp_path / "export.jsonl"
    path.write_text(_lines([event, event]))
    settings = AnalyticsSettings(path=path, format="mixpanel", source="mixpanel",
                                 account_source="crm")  # fmt: skip
    connector = AnalyticsConnector(settings)
    (report,) = sync(accounts, connector).streams
    assert (report.read, report.quarantined) == (2, 0)
    assert _events(accounts) == [("x1", "report_viewed", "u1", 1)]


def test_amplitude_zips_of_gzipped_lines(accounts: Store, tmp_path: Path) -> None:
    rows = [{"event_type": "workflow_run", "user_id": "u1", "device_id": "d1",
             "event_time": "2026-11-02 10:00:00.123000", "uuid": "a1",
             "groups": {"company_id": ["A"]}, "event_properties": {"steps": 2}},
            {"event_type": "login", "user_id": None, "device_id": "d2",
             "event_time": "2026-11-02 11:00:00", "$insert_id": "a2", "groups": {}}]  # fmt: skip
    with zipfile.ZipFile(tmp_path / "project_2026-11-02.zip", "w") as archive:
        archive.writestr("123/part-0.json.gz", gzip.compress(_lines(rows).encode()))
    settings = AnalyticsSettings(path=tmp_path, format="amplitude", source="amplitude",
                                 account_source="crm")  # fmt: skip
    connector = AnalyticsConnector(settings)
    (report,) = sync(accounts, connector).streams
    assert (report.read, report.written, report.quarantined) == (2, 2, 0)
    assert _events(accounts) == [("a1", "workflow_run", "u1", 1), ("a2", "login", None, None)]


def test_check_names_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(ConnectorError, match="does not exist: set CS_ANALYTICS_PATH"):
        AnalyticsConnector(AnalyticsSettings(path=tmp_path / "none")).check()
    with pytest.raises(ConnectorError, match=r"holds no amplitude exports \(\.zip\)"):
        AnalyticsConnector(AnalyticsSettings(path=tmp_path, format="amplitude")).check()
