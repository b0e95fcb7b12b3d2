"""Usage events: de-duplicated by messageId, rolled up per account and UTC day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from cs_core import (
    AccountRecord,
    AccountRef,
    DailyUsage,
    FeatureUsage,
    InvalidRecordError,
    ProductFeature,
    Store,
    UsageDaily,
    UsageEventRecord,
    UsageFeatureDaily,
    write_daily_usage,
)

DAY = datetime(2026, 11, 2, tzinfo=UTC)


def track(
    message_id: str, user: str, event: str, at: datetime, group: str = "acme"
) -> UsageEventRecord:
    return UsageEventRecord(
        source="segment",
        external_id=message_id,
        account_external_id=group,
        user_id=user,
        event=event,
        timestamp=at,
    )


def rollups(
    store: Store,
) -> tuple[dict[date, tuple[int, int]], dict[tuple[date, str], tuple[int, int]]]:
    with store.transaction() as session:
        daily = {
            row.day: (row.active_users, row.events) for row in session.scalars(select(UsageDaily))
        }
        features = {
            (row.day, row.feature): (row.users, row.events)
            for row in session.scalars(select(UsageFeatureDaily))
        }
    return daily, features


@pytest.fixture
def acme(store: Store) -> Store:
    store.write([AccountRecord(source="segment", external_id="acme", name="Acme", segment="plg")])
    return store


def test_events_roll_up_into_distinct_users_per_utc_day(acme: Store) -> None:
    acme.write(
        [
            track("m1", "ann", "report_created", DAY + timedelta(hours=1)),
            track("m2", "ann", "report_created", DAY + timedelta(hours=2)),
            track("m3", "bob", "dashboard_viewed", DAY + timedelta(hours=23, minutes=59)),
            track("m4", "bob", "dashboard_viewed", DAY + timedelta(days=1, minutes=1)),
        ]
    )
    daily, features = rollups(acme)
    assert daily == {DAY.date(): (2, 3), DAY.date() + timedelta(days=1): (1, 1)}
    assert features[(DAY.date(), "report_created")] == (1, 2)
    assert features[(DAY.date(), "dashboard_viewed")] == (1, 1)


def test_a_message_delivered_twice_counts_once(acme: Store) -> None:
    first = acme.write([track("m1", "ann", "login", DAY)])
    again = acme.write([track("m1", "ann", "login", DAY), track("m2", "cy", "login", DAY)])
    assert first.written == {"usage event": 1}
    assert again.written == {"usage event": 1}
    assert rollups(acme)[0] == {DAY.date(): (2, 2)}


def test_late_events_join_the_rollups_of_their_day(acme: Store) -> None:
    acme.write([track("m1", "ann", "login", DAY)])
    acme.write([track("m2", "bob", "login", DAY + timedelta(hours=5))])
    assert rollups(acme)[0] == {DAY.date(): (2, 2)}


def test_events_of_an_unknown_account_roll_up_once_it_arrives(store: Store) -> None:
    result = store.write([track("m1", "ann", "login", DAY, group="late")])
    assert result.unresolved == 1
    assert rollups(store)[0] == {}
    late = AccountRecord(source="segment", external_id="late", name="Late", segment="smb")
    assert store.write([late]).resolved_pending == 1
    assert rollups(store)[0] == {DAY.date(): (1, 1)}


def test_aggregates_can_be_written_directly(acme: Store) -> None:
    ref = AccountRef(source="segment", external_id="acme")
    row = DailyUsage(
        account=ref,
        day=DAY.date(),
        active_users=5,
        events=40,
        features={"workflow_run": FeatureUsage(events=12, users=3)},
    )
    with acme.transaction() as session:
        assert write_daily_usage(session, [row]) == 1
        assert write_daily_usage(session, [row]) == 1
    assert rollups(acme) == (
        {DAY.date(): (5, 40)},
        {(DAY.date(), "workflow_run"): (3, 12)},
    )


def test_bad_aggregates_are_refused_whole(acme: Store) -> None:
    good = DailyUsage(
        account=AccountRef(source="segment", external_id="acme"),
        day=DAY.date(),
        active_users=1,
        events=1,
    )
    unknown = DailyUsage(
        account=AccountRef(source="segment", external_id="ghost"),
        day=DAY.date(),
        active_users=1,
        events=1,
    )
    too_many = DailyUsage(
        account=AccountRef(source="segment", external_id="acme"),
        day=DAY.date() - timedelta(days=1),
        active_users=1,
        events=-3,
        features={"x": FeatureUsage(events=1, users=9)},
    )
    with pytest.raises(InvalidRecordError) as caught, acme.transaction() as session:
        write_daily_usage(session, [good, unknown, too_many])
    fields = {(p.record.split()[-2], p.field) for p in caught.value.problems}
    assert fields == {
        ("segment:ghost", "account"),
        ("segment:acme", "events"),
        ("segment:acme", "features.x.users"),
    }
    assert rollups(acme) == ({}, {})


def test_the_products_features_keep_their_first_and_last_day_of_use(acme: Store) -> None:
    ref = AccountRef(source="segment", external_id="acme")

    def use(feature: str, day: date) -> DailyUsage:
        return DailyUsage(
            account=ref,
            day=day,
            active_users=1,
            events=1,
            features={feature: FeatureUsage(events=1, users=1)},
        )

    first = DAY.date()
    with acme.transaction() as session:
        write_daily_usage(session, [use("export", first)])
        write_daily_usage(session, [use("export", first - timedelta(days=9))])
        write_daily_usage(session, [use("export", first + timedelta(days=3))])
        write_daily_usage(session, [use("export", first)])  # inside the span: no change
    acme.write([track("m1", "ann", "share", DAY + timedelta(days=5))])
    with acme.transaction() as session:
        spans = {
            row.feature: (row.first_used, row.last_used)
            for row in session.scalars(select(ProductFeature))
        }
    assert spans == {
        "export": (first - timedelta(days=9), first + timedelta(days=3)),
        "share": (first + timedelta(days=5), first + timedelta(days=5)),
    }
