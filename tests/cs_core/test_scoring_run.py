"""Scoring runs over the store: what they write, what they announce, and when they stay quiet."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from statistics import mean

import pytest
from sqlalchemy import func, select

from cs_core import (
    Account,
    AccountRecord,
    ConfigurationError,
    ContactRecord,
    DemoOptions,
    HealthHistory,
    HealthScoreRow,
    InvalidArgumentError,
    ScorecardRule,
    ScorecardRules,
    ScoringRun,
    Store,
    TicketRecord,
    builtin_scorecards,
    generate_demo,
    health_history,
    health_trend,
    load_demo,
    read_events,
    score_all,
)

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)


def count(store: Store, model: type) -> int:
    with store.transaction() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture
def demo_store(store: Store) -> Store:
    load_demo(store, DemoOptions(accounts=60, as_of=AS_OF.date(), chunk_size=60))
    return store


def test_a_first_run_scores_every_account_and_announces_each(demo_store: Store) -> None:
    summary = score_all(demo_store, as_of=AS_OF, chunk_size=25)
    assert (summary.accounts, summary.changed) == (60, 60)
    assert summary.events == 60 + summary.signals_opened
    assert sum(summary.tiers.values()) == 60
    assert count(demo_store, HealthScoreRow) == 60
    assert count(demo_store, HealthHistory) == 60
    with demo_store.transaction() as session:
        events = read_events(session, types={"health.changed"})
    assert len(events) == 60
    first = events[0].payload
    assert first["previous"] is None
    assert first["cause"] == "first"
    assert first["current"]["tier"] in {"Green", "Yellow", "Red"}


def test_a_run_with_nothing_changed_writes_and_announces_nothing(demo_store: Store) -> None:
    score_all(demo_store, as_of=AS_OF)
    again = score_all(demo_store, as_of=AS_OF)
    assert (again.accounts, again.changed, again.events) == (60, 0, 0)
    assert count(demo_store, HealthHistory) == 60


def test_a_customer_change_is_announced_with_its_cause(store: Store) -> None:
    store.write(
        [
            AccountRecord(source="crm", external_id="A", name="A", segment="smb",
                          lifecycle_stage="success", licensed_seats=10),
            ContactRecord(source="crm", external_id="c", account_external_id="A",
                          email="c@a.example.com", is_champion=True),
        ]
    )  # fmt: skip
    score_all(store, as_of=AS_OF)
    store.write(
        [
            ContactRecord(source="crm", external_id="c", account_external_id="A",
                          email="c@a.example.com", is_champion=True, status="left_company"),
        ]
    )  # fmt: skip
    with store.transaction() as session:
        before = read_events(session)[-1].id
    summary = score_all(store, as_of=AS_OF + timedelta(days=1))
    assert summary.changed == 0  # the SOP scorecard does not read champions: same score
    with store.transaction() as session:
        (fired,) = read_events(session, after=before)
        before = fired.id
    assert (fired.type, fired.payload["signal"]) == ("signal.fired", "champion_left")
    # The model changes: "sop" is now a scorecard that does read champions.
    cards = builtin_scorecards()
    cards["sop"] = cards["customer_success_framework"].model_copy(update={"id": "sop"})
    changed = score_all(store, as_of=AS_OF + timedelta(days=2), scorecards=cards)
    assert changed.changed == 1
    with store.transaction() as session:
        (event,) = read_events(session, after=before, types={"health.changed"})
        history = health_history(session, 1)
    assert event.payload["cause"] == "scorecard"
    assert [change.cause for change in history] == ["first", "scorecard"]


def test_history_gives_the_trend_over_a_window(demo_store: Store) -> None:
    for days_ago in (30, 7, 0):
        score_all(demo_store, as_of=AS_OF - timedelta(days=days_ago))
    with demo_store.transaction() as session:
        rows = session.execute(
            select(HealthHistory.account_id, HealthHistory.as_of, HealthHistory.score)
        ).all()
        by_account: dict[int, dict[datetime, float | None]] = defaultdict(dict)
        for account_id, as_of, score in rows:
            by_account[account_id][as_of] = score
        account_id, scores = next((a, s) for a, s in by_account.items() if len(s) == 3)
        trend = health_trend(session, account_id, days=30, as_of=AS_OF)
        assert trend.start == scores[AS_OF - timedelta(days=30)]
        assert trend.end == scores[AS_OF]
        start, end = scores[AS_OF - timedelta(days=30)], scores[AS_OF]
        assert start is not None
        assert end is not None
        assert trend.change == round(end - start, 2)
        unknown = health_trend(session, account_id, days=90, as_of=AS_OF - timedelta(days=31))
        assert (unknown.start, unknown.end, unknown.change) == (None, None, None)


def test_scoring_the_past_does_not_overwrite_the_present(demo_store: Store) -> None:
    score_all(demo_store, as_of=AS_OF)
    past = score_all(demo_store, as_of=AS_OF - timedelta(days=60))
    assert (past.changed, past.events) == (0, 0)
    with demo_store.transaction() as session:
        assert set(session.scalars(select(HealthScoreRow.as_of))) == {AS_OF}


def test_healthy_trajectories_score_higher(store: Store) -> None:
    options = DemoOptions(accounts=200, as_of=AS_OF.date())
    load_demo(store, options)
    truth = {
        external_id: trajectory.value
        for chunk in generate_demo(options)
        for external_id, trajectory in chunk.trajectories.items()
    }
    score_all(store, as_of=AS_OF)
    with store.transaction() as session:
        rows = session.execute(
            select(Account.external_id, HealthScoreRow.score).join(
                HealthScoreRow, HealthScoreRow.account_id == Account.id
            )
        ).all()
    scores: dict[str, list[float]] = defaultdict(list)
    for external_id, score in rows:
        if score is not None:
            scores[truth[external_id]].append(score)
    assert mean(scores["thriving"]) > mean(scores["steady"]) > mean(scores["churning"])
    assert mean(scores["declining"]) > mean(scores["churning"])


def test_runs_refuse_bad_configuration(store: Store) -> None:
    with pytest.raises(ConfigurationError, match="unknown scorecards: missing"):
        score_all(store, rules=ScorecardRules(rules=(ScorecardRule(scorecard="missing"),)))
    with pytest.raises(ConfigurationError, match="chunk_size must be at least 1"):
        score_all(store, chunk_size=0)


def test_an_empty_store_scores_nothing(store: Store) -> None:
    summary = score_all(store, as_of=AS_OF)
    assert (summary.accounts, summary.changed, summary.events) == (0, 0, 0)


def test_an_incremental_run_scores_only_what_changed_and_ends_like_a_full_run(
    demo_store: Store,
) -> None:
    score_all(demo_store, as_of=AS_OF)
    assert score_all(demo_store, as_of=AS_OF, incremental=True).accounts == 0
    # New tickets for two accounts, and a lost champion for a third.
    demo_store.write(
        [
            TicketRecord(source="demo", external_id=f"new-{n}", account_external_id=external_id,
                         priority="p1", status="open", opened_at=AS_OF - timedelta(hours=n + 1))
            for n, external_id in enumerate(["acct-0000004", "acct-0000004", "acct-0000007"] * 4)
        ]
        + [
            ContactRecord(source="demo", external_id="acct-0000009-c0",
                          account_external_id="acct-0000009", email="gone@x.example.com",
                          is_champion=True, status="left_company"),
        ]
    )  # fmt: skip
    incremental = score_all(demo_store, as_of=AS_OF, incremental=True)
    assert (incremental.kind, incremental.accounts) == ("incremental", 3)
    after_incremental = snapshot(demo_store)
    full = score_all(demo_store, as_of=AS_OF)
    assert (full.kind, full.changed) == ("full", 0)
    assert snapshot(demo_store) == after_incremental
    assert score_all(demo_store, as_of=AS_OF, incremental=True).accounts == 0


def test_a_changed_scorecard_makes_an_incremental_run_full(demo_store: Store) -> None:
    score_all(demo_store, as_of=AS_OF)
    cards = builtin_scorecards()
    cards["sop"] = cards["sop"].model_copy(update={"version": 2, "name": "SOP, revised"})
    summary = score_all(demo_store, as_of=AS_OF, scorecards=cards, incremental=True)
    assert summary.kind == "full"
    assert summary.accounts == 60


def snapshot(store: Store) -> dict[int, tuple[float | None, str | None]]:
    with store.transaction() as session:
        return {
            row.account_id: (row.score, row.tier) for row in session.scalars(select(HealthScoreRow))
        }


def test_an_as_of_without_a_timezone_is_refused(store: Store) -> None:
    with pytest.raises(InvalidArgumentError, match="as_of 2026-11-01T00:00:00 has no timezone"):
        score_all(store, as_of=datetime(2026, 11, 1))  # noqa: DTZ001 - the mistake under test
    with store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(ScoringRun)) == 0
