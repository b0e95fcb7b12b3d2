"""The outbox: events commit with the change that caused them and page by cursor."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from cs_core import CSError, Store, append_event, read_events


def test_events_are_visible_once_committed_and_read_in_order(store: Store) -> None:
    with store.transaction() as session:
        first = append_event(session, "health.changed", {"score": 71}, account_id=1)
        second = append_event(session, "signal.fired", {"signal": "usage_drop"}, account_id=2)
    assert second > first
    with store.transaction() as session:
        events = read_events(session)
    assert [(e.id, e.type, e.account_id, dict(e.payload)) for e in events] == [
        (first, "health.changed", 1, {"score": 71}),
        (second, "signal.fired", 2, {"signal": "usage_drop"}),
    ]
    assert all(e.created_at.tzinfo is not None for e in events)


def test_an_event_rolls_back_with_its_transaction(store: Store) -> None:
    class Boom(Exception):
        pass

    def change_then_fail() -> None:
        with store.transaction() as session:
            append_event(session, "health.changed", {"score": 10})
            raise Boom

    with pytest.raises(Boom):
        change_then_fail()
    with store.transaction() as session:
        assert read_events(session) == []


def test_readers_resume_after_their_cursor_and_filter(store: Store) -> None:
    with store.transaction() as session:
        ids = [
            append_event(
                session, "health.changed" if i % 2 else "task.created", {"i": i}, account_id=i % 3
            )
            for i in range(10)
        ]
    with store.transaction() as session:
        page = read_events(session, after=ids[3], limit=4)
        assert [e.id for e in page] == ids[4:8]
        assert [e.id for e in read_events(session, after=ids[-1])] == []
        health = read_events(session, types={"health.changed"})
        assert {e.type for e in health} == {"health.changed"}
        assert len(health) == 5
        assert {e.account_id for e in read_events(session, account_ids={0})} == {0}


@pytest.mark.parametrize("bad", ["Health", "health", "health changed", "health.", ".x"])
def test_event_types_must_be_dotted_names(store: Store, bad: str) -> None:
    with store.transaction() as session, pytest.raises(CSError, match="dotted lower-case name"):
        append_event(session, bad, {})


def test_payloads_must_be_json(store: Store) -> None:
    with store.transaction() as session, pytest.raises(CSError, match="is not JSON"):
        append_event(session, "health.changed", {"score": Decimal("1.5")})


@pytest.mark.parametrize(("after", "limit"), [(-1, 10), (0, 0), (0, 10_001)])
def test_read_arguments_are_checked(store: Store, after: int, limit: int) -> None:
    with store.transaction() as session, pytest.raises(CSError):
        read_events(session, after=after, limit=limit)


def test_writers_of_events_commit_one_at_a_time_in_id_order(store: Store) -> None:
    if store.dialect != "postgresql":
        pytest.skip("SQLite has a single writer: ids commit in order by construction")
    with store.transaction() as first:
        append_event(first, "health.changed", {"n": 1})
        # While the first writer has not committed, a second cannot take an id.
        with store.transaction() as second:
            second.execute(text("SET LOCAL lock_timeout = '200ms'"))
            with pytest.raises(OperationalError, match="lock timeout"):
                append_event(second, "health.changed", {"n": 2})
    with store.transaction() as third:
        append_event(third, "health.changed", {"n": 3})
    with store.transaction() as session:
        assert [event.payload["n"] for event in read_events(session)] == [1, 3]
