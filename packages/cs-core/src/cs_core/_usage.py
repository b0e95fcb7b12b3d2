"""Daily usage rollups: distinct active users and events per account and UTC day, and per feature.

Scoring reads rollups, never raw events. They are kept in step with ``usage_events`` by
:func:`refresh_usage_rollups`, and can also be written directly by sources that only export
aggregates (and by the demo generator) through :func:`write_daily_usage`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import case, delete, func, insert, select, tuple_
from sqlalchemy.orm import Session

from cs_core._enums import UsageEventType
from cs_core._errors import FieldProblem, InvalidRecordError
from cs_core._identity import account_ids
from cs_core._records import AccountRef
from cs_core._rescore import mark_for_rescoring
from cs_core._sql import UtcDay, bulk_upsert, dialect_insert
from cs_core._tables import ProductFeature, UsageDaily, UsageEvent, UsageFeatureDaily

__all__ = [
    "DailyUsage",
    "FeatureUsage",
    "note_product_features",
    "refresh_usage_rollups",
    "write_daily_usage",
]


@dataclass(frozen=True, slots=True)
class FeatureUsage:
    """One feature's use on one day: events and distinct users."""

    events: int
    users: int


@dataclass(frozen=True, slots=True)
class DailyUsage:
    """One account's usage on one UTC day, as a source that aggregates reports it."""

    account: AccountRef
    day: date
    active_users: int
    events: int
    features: Mapping[str, FeatureUsage] = field(default_factory=dict)

    def problems(self) -> list[FieldProblem]:
        """What makes this row unstorable; empty when it is fine."""
        label = f"daily usage {self.account} {self.day.isoformat()}"
        found = [
            FieldProblem(label, name, "must not be negative")
            for name, value in (("active_users", self.active_users), ("events", self.events))
            if value < 0
        ]
        for name, usage in self.features.items():
            if not name or usage.events < 0 or usage.users < 0:
                found.append(
                    FieldProblem(label, f"features.{name}", "needs a name and counts >= 0")
                )
            elif usage.users > self.active_users:
                found.append(FieldProblem(label, f"features.{name}.users", "exceeds active_users"))
        return found


def write_daily_usage(session: Session, rows: Iterable[DailyUsage]) -> int:
    """Upsert daily rollups in bulk (see :func:`bulk_upsert`); returns the rows written.

    Every row must name a known account; otherwise :class:`InvalidRecordError` names it and
    nothing is written.
    """
    batch = list(rows)
    problems = [problem for row in batch for problem in row.problems()]
    ids = account_ids(session, {row.account for row in batch})
    problems += [
        FieldProblem(
            f"daily usage {row.account} {row.day.isoformat()}",
            "account",
            f"names account {row.account}, which is not in the store; write it first",
        )
        for row in batch
        if row.account not in ids
    ]
    if problems:
        raise InvalidRecordError(problems)
    daily = [
        {
            "account_id": ids[row.account],
            "day": row.day,
            "active_users": row.active_users,
            "events": row.events,
        }
        for row in batch
    ]
    mark_for_rescoring(session, ids.values())
    features = [
        {
            "account_id": ids[row.account],
            "day": row.day,
            "feature": name,
            "events": usage.events,
            "users": usage.users,
        }
        for row in batch
        for name, usage in row.features.items()
    ]
    bulk_upsert(session, UsageDaily.__table__, ("account_id", "day"), daily)  # type: ignore[arg-type]
    bulk_upsert(
        session,
        UsageFeatureDaily.__table__,  # type: ignore[arg-type]
        ("account_id", "day", "feature"),
        features,
    )
    note_product_features(session, ((name, row.day) for row in batch for name in row.features))
    return len(batch)


def note_product_features(session: Session, uses: Iterable[tuple[str, date]]) -> None:
    """Widen each feature's first and last day of use to cover ``uses`` (one statement)."""
    spans: dict[str, tuple[date, date]] = {}
    for feature, day in uses:
        first, last = spans.get(feature, (day, day))
        spans[feature] = (min(first, day), max(last, day))
    if not spans:
        return
    insert_ = dialect_insert(session, ProductFeature.__table__)  # type: ignore[arg-type]
    new = insert_.excluded
    statement = insert_.on_conflict_do_update(
        index_elements=["feature"],
        set_={
            "first_used": case(
                (new.first_used < ProductFeature.first_used, new.first_used),
                else_=ProductFeature.first_used,
            ),
            "last_used": case(
                (new.last_used > ProductFeature.last_used, new.last_used),
                else_=ProductFeature.last_used,
            ),
        },
    )
    session.execute(
        statement,
        [
            {"feature": feature, "first_used": first, "last_used": last}
            for feature, (first, last) in sorted(spans.items())
        ],
    )


def refresh_usage_rollups(session: Session, touched: set[tuple[int, datetime]]) -> None:
    """Recompute the daily usage rollups of the (account, UTC day) pairs new events touched."""
    if not touched:
        return
    pairs = {(account_id, moment.astimezone(UTC).date()) for account_id, moment in touched}
    accounts = sorted({account_id for account_id, _ in pairs})
    first = min(day for _, day in pairs)
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    last = max(day for _, day in pairs)
    end = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
    day = UtcDay(UsageEvent.timestamp)
    in_scope = (
        UsageEvent.account_id.in_(accounts),
        UsageEvent.timestamp >= start,
        UsageEvent.timestamp < end,
    )
    wanted = list(pairs)
    person = func.coalesce(UsageEvent.user_id, UsageEvent.anonymous_id)

    session.execute(
        delete(UsageDaily).where(tuple_(UsageDaily.account_id, UsageDaily.day).in_(wanted))
    )
    session.execute(
        insert(UsageDaily).from_select(
            ["account_id", "day", "active_users", "events"],
            select(UsageEvent.account_id, day, func.count(person.distinct()), func.count())
            .where(*in_scope)
            .group_by(UsageEvent.account_id, day)
            .having(tuple_(UsageEvent.account_id, day).in_(wanted)),
        )
    )
    session.execute(
        delete(UsageFeatureDaily).where(
            tuple_(UsageFeatureDaily.account_id, UsageFeatureDaily.day).in_(wanted)
        )
    )
    session.execute(
        insert(UsageFeatureDaily).from_select(
            ["account_id", "day", "feature", "events", "users"],
            select(
                UsageEvent.account_id,
                day,
                UsageEvent.event,
                func.count(),
                func.count(person.distinct()),
            )
            .where(*in_scope, UsageEvent.type == UsageEventType.TRACK)
            .group_by(UsageEvent.account_id, day, UsageEvent.event)
            .having(tuple_(UsageEvent.account_id, day).in_(wanted)),
        )
    )
    used = session.execute(
        select(UsageFeatureDaily.feature, UsageFeatureDaily.day)
        .where(tuple_(UsageFeatureDaily.account_id, UsageFeatureDaily.day).in_(wanted))
        .distinct()
    )
    note_product_features(session, ((feature, used_on) for feature, used_on in used))
