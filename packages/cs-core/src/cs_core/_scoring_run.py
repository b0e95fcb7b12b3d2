"""Scoring runs: every account scored from the store, its changes kept and announced.

A run walks the accounts in chunks of ids. For each chunk, one transaction computes the metrics
set-based, scores each account with the scorecard its rules choose, and, for the accounts whose
health changed, writes the latest score, appends a history row and appends a ``health.changed``
event to the outbox. An account whose score, tier and scorecard are unchanged costs no write and
no event.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from cs_core._errors import ConfigurationError
from cs_core._lifecycle import account_stage, join_stage
from cs_core._markers import MetricProvider
from cs_core._metric_registry import MetricRegistry, installed_metrics
from cs_core._metric_values import AccountRange, account_ranges, compute_metrics
from cs_core._outbox import NewEvent, append_events
from cs_core._scorecard import Scorecard
from cs_core._scorecard_rules import ScorecardRules, builtin_scorecards
from cs_core._scoring import HealthScore, score_account
from cs_core._signals import SIGNAL_METRICS, FiredSignal, SignalThresholds, detect_signals
from cs_core._sql import bulk_upsert
from cs_core._store import Store
from cs_core._tables import (
    Account,
    AccountToRescore,
    HealthHistory,
    HealthScoreRow,
    ScoringRun,
    Signal,
)
from cs_core._types import utc_moment

__all__ = ["HEALTH_CHANGED", "SIGNAL_FIRED", "SIGNAL_RESOLVED", "RunSummary", "score_all"]

HEALTH_CHANGED = "health.changed"
SIGNAL_FIRED = "signal.fired"
SIGNAL_RESOLVED = "signal.resolved"


@dataclass(frozen=True, slots=True)
class RunSummary:
    """What a scoring run did."""

    run_id: int
    as_of: datetime
    accounts: int
    changed: int
    events: int
    tiers: dict[str, int] = field(default_factory=dict)
    """Accounts per tier after the run (``none``: no data to score)."""
    signals_opened: int = 0
    kind: str = "full"
    """``full``, or ``incremental`` when only accounts with changed inputs were scored."""
    seconds: float = 0.0

    @property
    def accounts_per_second(self) -> float:
        return self.accounts / self.seconds if self.seconds else 0.0


def score_all(
    store: Store,
    *,
    as_of: datetime | None = None,
    scorecards: Mapping[str, Scorecard] | None = None,
    rules: ScorecardRules | None = None,
    thresholds: SignalThresholds | None = None,
    incremental: bool = False,
    metrics: MetricRegistry | None = None,
    chunk_size: int = 5000,
    on_progress: Callable[[int], None] | None = None,
) -> RunSummary:
    """Score every account as of ``as_of`` (default: now) and record what changed.

    Also opens, refreshes and resolves the accounts' predictive signals (see
    :class:`SignalThresholds`), in the same transaction as their scores.

    ``incremental`` scores only the accounts whose inputs changed since they were last scored
    (every write path marks them); at the same as-of time it ends where a full run would. When
    a scorecard changed since the last run, every account needs rescoring, and the run is full.
    """
    moment = utc_moment(as_of, "as_of")
    cards = dict(scorecards) if scorecards is not None else builtin_scorecards()
    chosen = rules or ScorecardRules.default()
    chosen.check_scorecards(cards)
    registry = metrics or installed_metrics()
    catalogue = registry.catalogue
    for card in cards.values():
        card.check_metrics(catalogue)
    providers = registry.providers_for(
        frozenset().union(*(card.metrics for card in cards.values())) | SIGNAL_METRICS
    )
    if chunk_size < 1:
        raise ConfigurationError(f"chunk_size must be at least 1, not {chunk_size}")
    store.check_ready()

    started = time.perf_counter()
    began = datetime.now(UTC)
    with store.transaction() as session:
        if incremental and _scorecards_changed(session, cards):
            incremental = False
        run_id = session.execute(
            insert(ScoringRun)
            .values(
                kind="incremental" if incremental else "full",
                as_of=moment,
                started_at=began,
                accounts=0,
                changed=0,
                events=0,
            )
            .returning(ScoringRun.id)
        ).scalar_one()

    accounts = changed = events = signals = 0
    tiers: Counter[str] = Counter()
    for scope in _scopes(store, incremental=incremental, chunk_size=chunk_size, before=began):
        with store.transaction() as session:
            chunk = _score_chunk(
                session,
                scope,
                moment,
                cards,
                chosen,
                thresholds or SignalThresholds(),
                providers,
                run_id,
            )
            session.execute(
                delete(AccountToRescore).where(
                    scope.covers(AccountToRescore.account_id),
                    AccountToRescore.changed_at <= began,
                )
            )
        accounts += chunk.accounts
        changed += chunk.changed
        events += chunk.events
        signals += chunk.signals_opened
        tiers.update(chunk.tiers)
        if on_progress is not None:
            on_progress(accounts)

    with store.transaction() as session:
        session.execute(
            update(ScoringRun)
            .where(ScoringRun.id == run_id)
            .values(
                finished_at=datetime.now(UTC), accounts=accounts, changed=changed, events=events
            )
        )
    return RunSummary(
        run_id=run_id,
        as_of=moment,
        accounts=accounts,
        changed=changed,
        events=events,
        tiers=dict(tiers),
        signals_opened=signals,
        kind="incremental" if incremental else "full",
        seconds=time.perf_counter() - started,
    )


def _scopes(
    store: Store, *, incremental: bool, chunk_size: int, before: datetime
) -> Iterator[AccountRange]:
    """The chunks of accounts a run scores: id ranges, or the marked accounts page by page."""
    if not incremental:
        yield from account_ranges(store, chunk_size)
        return
    after = 0
    while True:
        with store.transaction() as session:
            ids = session.scalars(
                select(AccountToRescore.account_id)
                .where(AccountToRescore.account_id > after, AccountToRescore.changed_at <= before)
                .order_by(AccountToRescore.account_id)
                .limit(chunk_size)
            ).all()
        if not ids:
            return
        yield AccountRange(ids[0], ids[-1], frozenset(ids))
        after = ids[-1]


def _scorecards_changed(session: Session, scorecards: Mapping[str, Scorecard]) -> bool:
    """Whether any stored score came from a scorecard that is no longer as it was."""
    current = {(card.id, card.fingerprint) for card in scorecards.values()}
    stored = session.execute(
        select(HealthScoreRow.scorecard_id, HealthScoreRow.scorecard_fingerprint).distinct()
    ).all()
    return any((row[0], row[1]) not in current for row in stored)


def _score_chunk(
    session: Session,
    accounts: AccountRange,
    as_of: datetime,
    scorecards: Mapping[str, Scorecard],
    rules: ScorecardRules,
    thresholds: SignalThresholds,
    providers: list[MetricProvider],
    run_id: int,
) -> RunSummary:
    metrics = compute_metrics(session, accounts, as_of, providers)
    open_signals: dict[int, dict[str, Signal]] = {}
    for signal in session.scalars(
        select(Signal).where(accounts.covers(Signal.account_id), Signal.resolved_at.is_(None))
    ):
        open_signals.setdefault(signal.account_id, {})[signal.kind] = signal
    previous = {
        row.account_id: row
        for row in session.scalars(
            select(HealthScoreRow).where(accounts.covers(HealthScoreRow.account_id))
        )
    }
    current: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    events: list[NewEvent] = []
    tiers: Counter[str] = Counter()
    scored = signals_opened = 0
    for account_id, segment, stage in session.execute(
        join_stage(select(Account.id, Account.segment, account_stage()))
        .where(accounts.covers(Account.id))
        .order_by(Account.id)
    ):
        scored += 1
        card = scorecards[rules.choose(segment, stage)]
        health = score_account(card, metrics.get(account_id, {}), as_of=as_of)
        tiers[health.tier or "none"] += 1
        before = previous.get(account_id)
        if before is not None and before.as_of > as_of:
            continue  # a newer score exists: scoring the past adds nothing to the present
        opened, signal_events = _update_signals(
            session,
            account_id,
            detect_signals(metrics.get(account_id, {}), health.tier, thresholds),
            open_signals.get(account_id, {}),
            as_of,
        )
        signals_opened += opened
        events.extend(signal_events)
        fingerprint = card.fingerprint
        points = _measures(health)
        if before is not None and (
            (before.score, before.tier, before.scorecard_fingerprint)
            == (health.score, health.tier, fingerprint)
        ):
            continue
        cause = (
            "first"
            if before is None
            else "scorecard"
            if before.scorecard_fingerprint != fingerprint
            else "customer"
        )
        row = {
            "account_id": account_id,
            "scorecard_id": card.id,
            "scorecard_version": card.version,
            "scorecard_fingerprint": fingerprint,
            "score": health.score,
            "tier": health.tier,
            "measures": points,
            "as_of": as_of,
            "run_id": run_id,
        }
        current.append(row)
        history.append(
            {
                **{name: value for name, value in row.items() if name != "account_id"},
                "account_id": account_id,
                "previous_score": None if before is None else before.score,
                "previous_tier": None if before is None else before.tier,
                "cause": cause,
            }
        )
        if before is None or (before.score, before.tier) != (health.score, health.tier):
            events.append(_event(account_id, health, before, cause, points))
    bulk_upsert(session, HealthScoreRow.__table__, ("account_id",), current)  # type: ignore[arg-type]
    if history:
        session.execute(insert(HealthHistory), history)
    append_events(session, events)
    return RunSummary(
        run_id=run_id,
        as_of=as_of,
        accounts=scored,
        changed=len(current),
        events=len(events),
        tiers=dict(tiers),
        signals_opened=signals_opened,
    )


def _update_signals(
    session: Session,
    account_id: int,
    fired: list[FiredSignal],
    open_now: Mapping[str, Signal],
    as_of: datetime,
) -> tuple[int, list[NewEvent]]:
    """Open new signals, refresh those still firing, resolve those that stopped."""
    events: list[NewEvent] = []
    opened = 0
    for signal in fired:
        existing = open_now.get(signal.kind)
        if existing is not None:
            existing.severity, existing.evidence = signal.severity.value, signal.evidence
            existing.last_seen_at = as_of
            continue
        row = Signal(
            account_id=account_id,
            kind=signal.kind,
            severity=signal.severity.value,
            evidence=signal.evidence,
            first_seen_at=as_of,
            last_seen_at=as_of,
        )
        session.add(row)
        opened += 1
        events.append(
            NewEvent(
                SIGNAL_FIRED,
                {
                    "account_id": account_id,
                    "signal": signal.kind,
                    "severity": signal.severity.value,
                    "evidence": signal.evidence,
                    "as_of": as_of.isoformat(),
                },
                account_id,
            )
        )
    still = {signal.kind for signal in fired}
    for kind, existing in open_now.items():
        if kind not in still:
            existing.resolved_at = as_of
            events.append(
                NewEvent(
                    SIGNAL_RESOLVED,
                    {"account_id": account_id, "signal": kind, "as_of": as_of.isoformat()},
                    account_id,
                )
            )
    return opened, events


def _measures(health: HealthScore) -> dict[str, list[float | None]]:
    return {measure.name: [measure.value, measure.points] for measure in health.measures}


def _event(
    account_id: int,
    health: HealthScore,
    before: HealthScoreRow | None,
    cause: str,
    points: Mapping[str, list[float | None]],
) -> NewEvent:
    moved = []
    if before is not None:
        for name, (_, now) in points.items():
            was = before.measures.get(name, [None, None])[1]
            if was != now:
                moved.append({"measure": name, "from": was, "to": now})
    delta = (
        None
        if before is None or before.score is None or health.score is None
        else round(health.score - before.score, 2)
    )
    return NewEvent(
        HEALTH_CHANGED,
        {
            "account_id": account_id,
            "scorecard": health.scorecard_id,
            "scorecard_version": health.scorecard_version,
            "as_of": health.as_of.isoformat(),
            "previous": None if before is None else {"score": before.score, "tier": before.tier},
            "current": {"score": health.score, "tier": health.tier},
            "delta": delta,
            "cause": cause,
            "moved": moved,
        },
        account_id,
    )
