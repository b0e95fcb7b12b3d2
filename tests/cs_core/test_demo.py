"""The demo customer base: reproducible, realistic, streamed in chunks."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from itertools import islice

import pytest
from sqlalchemy import func, select

from cs_core import (
    Account,
    AccountRecord,
    ContactRecord,
    ContractRecord,
    DemoOptions,
    Store,
    SurveyResponseRecord,
    TicketRecord,
    Trajectory,
    UsageDaily,
    generate_demo,
    load_demo,
)

AS_OF = date(2026, 11, 1)


def records_of(options: DemoOptions) -> list[object]:
    return [record for chunk in generate_demo(options) for record in chunk.records]


def test_the_same_seed_gives_the_same_records() -> None:
    options = DemoOptions(accounts=30, seed=7, as_of=AS_OF)
    assert records_of(options) == records_of(options)
    assert records_of(options) != records_of(DemoOptions(accounts=30, seed=8, as_of=AS_OF))


def test_chunking_does_not_change_the_data() -> None:
    whole = DemoOptions(accounts=25, as_of=AS_OF, chunk_size=25)
    pieces = DemoOptions(accounts=25, as_of=AS_OF, chunk_size=4)
    assert records_of(whole) == records_of(pieces)


def test_a_million_accounts_are_streamed_not_built_up_front() -> None:
    chunks = generate_demo(DemoOptions(accounts=1_000_000, as_of=AS_OF, chunk_size=50))
    first, second = islice(chunks, 2)
    assert len(first.trajectories) == len(second.trajectories) == 50
    assert next(iter(second.trajectories)) == "acct-0000050"


def test_the_base_looks_like_a_real_one() -> None:
    options = DemoOptions(accounts=200, as_of=AS_OF)
    chunks = list(generate_demo(options))
    records = [record for chunk in chunks for record in chunk.records]
    accounts = [r for r in records if isinstance(r, AccountRecord)]
    assert len(accounts) == 200
    assert {a.segment.value for a in accounts} == {"enterprise", "mid_market", "smb", "plg"}
    assert sum(a.parent_external_id is not None for a in accounts) == 20
    churned = [a for a in accounts if a.lifecycle_stage.value == "churned"]
    assert churned, "some churning accounts have already gone"
    for account in accounts:
        renewal = account.renewal_date
        assert renewal is not None
        if account in churned:
            assert AS_OF - timedelta(days=80) <= renewal < AS_OF
        else:
            assert AS_OF < renewal <= AS_OF + timedelta(days=365)
    contracts_by_account = {
        r.account_external_id: r for r in records if isinstance(r, ContractRecord)
    }
    assert {contracts_by_account[a.external_id].status.value for a in churned} == {"expired"}
    contacts = [r for r in records if isinstance(r, ContactRecord)]
    assert sum(c.is_champion for c in contacts) == 200
    assert any(c.is_executive_sponsor for c in contacts)
    assert any(c.status.value == "left_company" for c in contacts)
    tickets = [r for r in records if isinstance(r, TicketRecord)]
    assert {t.priority.value for t in tickets} == {"p1", "p2", "p3", "p4"}
    surveys = Counter(r.survey.value for r in records if isinstance(r, SurveyResponseRecord))
    assert surveys["nps"] > 0
    assert surveys["csat"] > 0
    contracts = [r for r in records if isinstance(r, ContractRecord)]
    assert {c.renewal_track.value for c in contracts} == {"auto", "standard", "complex", "at_risk"}
    trajectories = Counter(t for chunk in chunks for t in chunk.trajectories.values())
    assert set(trajectories) == set(Trajectory)


def test_usage_follows_each_accounts_trajectory() -> None:
    (chunk,) = generate_demo(DemoOptions(accounts=100, as_of=AS_OF, chunk_size=100))
    seats = {r.external_id: r.licensed_seats for r in chunk.records if isinstance(r, AccountRecord)}
    days = {day.day for day in chunk.usage}
    assert len(days) == 120
    assert max(days) == AS_OF - timedelta(days=1)

    def adoption(external_id: str, weeks: slice) -> float:
        rows = sorted(
            (
                u
                for u in chunk.usage
                if u.account.external_id == external_id and u.day.weekday() < 5
            ),
            key=lambda u: u.day,
        )[weeks]
        return sum(u.active_users for u in rows) / len(rows) / (seats[external_id] or 1)

    for external_id, trajectory in chunk.trajectories.items():
        change = adoption(external_id, slice(-10, None)) - adoption(external_id, slice(0, 10))
        if trajectory is Trajectory.THRIVING:
            assert change > 0, external_id
        elif trajectory in (Trajectory.DECLINING, Trajectory.CHURNING):
            assert change < -0.1, external_id


@pytest.mark.parametrize("field", ["accounts", "chunk_size"])
def test_options_are_checked(field: str) -> None:
    with pytest.raises(ValueError, match=f"{field} must be at least 1"):
        DemoOptions(**{field: 0})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="history_days must be at least 90"):
        DemoOptions(history_days=30)


def test_loading_fills_the_store_and_loading_again_changes_nothing(store: Store) -> None:
    options = DemoOptions(accounts=30, as_of=AS_OF, chunk_size=8)
    progress: list[int] = []
    summary = load_demo(store, options, on_progress=progress.append)
    assert progress == [8, 16, 24, 30]
    assert summary.written["account"] == 30
    assert summary.written["usage day"] == 30 * 120
    assert sum(summary.segments.values()) == 30

    def counts() -> tuple[int, int, int]:
        with store.transaction() as session:
            return (
                session.scalar(select(func.count()).select_from(Account)) or 0,
                session.scalar(select(func.count()).select_from(UsageDaily)) or 0,
                session.scalar(select(func.count()).where(Account.parent_id.is_not(None))) or 0,
            )

    assert counts() == (30, 3600, 3)
    load_demo(store, options)
    assert counts() == (30, 3600, 3)
