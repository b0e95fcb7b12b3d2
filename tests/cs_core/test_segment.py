"""Segment messages: mapped to usage events, de-duplicated, attributed by groupId, refused
with reasons."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from cs_core import (
    AccountRecord,
    InvalidArgumentError,
    Store,
    UsageDaily,
    UsageEvent,
    ingest_segment,
    segment_fields,
)

TRACK = {"type": "track", "messageId": "m1", "userId": "u1", "event": "workflow_run",
         "timestamp": "2026-11-02T10:00:00Z", "properties": {"steps": 3},
         "context": {"groupId": "A"}}  # fmt: skip


def test_segment_messages_become_usage_event_fields() -> None:
    assert segment_fields(TRACK, source="segment", account_source="crm") == {
        "source": "segment", "external_id": "m1", "type": "track", "event": "workflow_run",
        "user_id": "u1", "timestamp": "2026-11-02T10:00:00Z", "properties": {"steps": 3},
        "account_external_id": "A", "account_source": "crm",
    }  # fmt: skip
    group = {"type": "group", "messageId": "m2", "anonymousId": "x", "groupId": "B",
             "traits": {"plan": "pro"}, "timestamp": "2026-11-02T10:00:00Z"}  # fmt: skip
    fields = segment_fields(group, source="segment")
    assert (fields["event"], fields["account_external_id"], fields["properties"]) == (
        "group", "B", {"plan": "pro"},
    )  # fmt: skip
    page = {"type": "page", "name": "Pricing", "messageId": "m3", "userId": "u",
            "timestamp": "2026-11-02T10:00:00Z"}  # fmt: skip
    assert segment_fields(page, source="segment")["event"] == "Pricing"


def test_a_batch_is_stored_once_and_attributed(store: Store) -> None:
    store.write([AccountRecord(source="crm", external_id="A", name="A", segment="smb",
                               lifecycle_stage="success")])  # fmt: skip
    batch = [TRACK, TRACK | {"messageId": "m2", "userId": "u2"}, TRACK]
    report = ingest_segment(store, batch, account_source="crm")
    assert (report.received, report.stored, report.rejected) == (3, 2, {})
    again = ingest_segment(store, batch, account_source="crm")
    assert again.stored == 0  # the same messageIds: duplicates, dropped
    with store.transaction() as session:
        assert len(session.scalars(select(UsageEvent.id)).all()) == 2
        (daily,) = session.execute(select(UsageDaily.day, UsageDaily.active_users)).all()
    assert tuple(daily) == (date(2026, 11, 2), 2)


def test_bad_messages_are_refused_with_reasons_and_the_rest_stored(store: Store) -> None:
    report = ingest_segment(
        store,
        [TRACK, {"type": "track", "userId": "u"}, "nope", TRACK | {"messageId": "m9",
                                                                   "event": None}],
    )  # fmt: skip
    assert report.stored == 1
    assert sorted(report.rejected) == [1, 2, 3]
    assert "messageId: Field required" in report.rejected[1]
    assert report.rejected[2] == "a message must be a JSON object"
    assert "a track event needs an event name" in report.rejected[3]
    with pytest.raises(InvalidArgumentError, match="an empty batch"):
        ingest_segment(store, [])
