"""What playbooks did and whether it worked: the audit log, the actions, effectiveness.

A firing **worked** when, within the playbook's ``effect_days`` (default: the policies'), the
account's health score rose by at least ``recovery_points`` above its score at firing, or its tier
improved (Red < Yellow < Green). A firing is **judged** once its window has passed or it worked.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from cs_core._playbooks import Playbook, installed_playbooks
from cs_core._policies import Policies, load_policies
from cs_core._store import Store
from cs_core._tables import HealthHistory, PlaybookAction, PlaybookFiring, PlaybookRun
from cs_core._types import utc_moment

__all__ = [
    "ActionOutcome",
    "PlaybookEffect",
    "playbook_actions",
    "playbook_effectiveness",
    "playbook_runs",
]

_TIER_RANK = {"red": 0, "yellow": 1, "green": 2}


@dataclass(frozen=True, slots=True)
class PlaybookEffect:
    """How often a playbook's firings were followed by recovered health."""

    playbook: str
    fired: int
    judged: int
    worked: int

    @property
    def rate(self) -> float | None:
        """Share of judged firings after which health recovered."""
        return self.worked / self.judged if self.judged else None


def _better(before: tuple[float | None, str | None], after: tuple[float | None, str | None],
            points: float) -> bool:  # fmt: skip
    score, tier = before
    later_score, later_tier = after
    if score is not None and later_score is not None and later_score >= score + points:
        return True
    rank, later_rank = (
        _TIER_RANK.get((tier or "").lower()),
        _TIER_RANK.get((later_tier or "").lower()),
    )
    return rank is not None and later_rank is not None and later_rank > rank


def playbook_effectiveness(
    store: Store,
    *,
    as_of: datetime | None = None,
    playbooks: Sequence[Playbook] | None = None,
    policies: Policies | None = None,
) -> list[PlaybookEffect]:
    """Per playbook that fired, how many firings were followed by recovered health."""
    moment = utc_moment(as_of, "as_of")
    settings = (policies or load_policies()).playbooks
    windows = {
        playbook.name: timedelta(days=playbook.effect_days or settings.effect_days)
        for playbook in (installed_playbooks() if playbooks is None else playbooks)
    }
    store.check_ready()
    with store.transaction(read_only=True) as session:
        firings = session.execute(
            select(PlaybookFiring.playbook, PlaybookFiring.account_id, PlaybookFiring.fired_at,
                   PlaybookFiring.score, PlaybookFiring.tier)
            .where(PlaybookFiring.fired_at <= moment)
        ).all()  # fmt: skip
        if not firings:
            return []
        earliest = min(firing.fired_at for firing in firings)
        history: dict[int, list[tuple[datetime, float | None, str | None]]] = defaultdict(list)
        for account, at, score, tier in session.execute(
            select(HealthHistory.account_id, HealthHistory.as_of, HealthHistory.score,
                   HealthHistory.tier)
            .where(HealthHistory.as_of > earliest, HealthHistory.as_of <= moment)
            .order_by(HealthHistory.as_of)
        ):  # fmt: skip
            history[account].append((at, score, tier))
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for name, account, fired_at, score, tier in firings:
        window = windows.get(name, timedelta(days=settings.effect_days))
        worked = any(
            fired_at < at <= fired_at + window
            and _better((score, tier), (later, later_tier), settings.recovery_points)
            for at, later, later_tier in history.get(account, ())
        )
        tally = counts[name]
        tally[0] += 1
        tally[1] += worked or fired_at + window <= moment
        tally[2] += worked
    return [
        PlaybookEffect(name, fired, judged, worked)
        for name, (fired, judged, worked) in sorted(counts.items())
    ]


def playbook_runs(store: Store, *, limit: int = 20) -> list[PlaybookRun]:
    """The latest runs of the engine, newest first: the audit log."""
    store.check_ready()
    with store.transaction(read_only=True) as session:
        runs = list(
            session.scalars(select(PlaybookRun).order_by(PlaybookRun.id.desc()).limit(limit))
        )
        session.expunge_all()
    return runs


@dataclass(frozen=True, slots=True)
class ActionOutcome:
    """One action of one firing, and what came of it."""

    firing_key: str
    playbook: str
    account_id: int
    position: int
    kind: str
    channel: str | None
    status: str
    """``done`` (a local action), ``pending``, ``sent``, ``retrying`` or ``failed``."""
    attempts: int
    outcome: str | None
    next_attempt_at: datetime | None


def playbook_actions(
    store: Store, *, statuses: Sequence[str] | None = None, limit: int = 1000
) -> list[ActionOutcome]:
    """Actions and their outcomes, newest first; ``statuses`` picks some (``failed``…)."""
    store.check_ready()
    query = (
        select(PlaybookAction, PlaybookFiring.playbook, PlaybookFiring.account_id)
        .join(PlaybookFiring, PlaybookFiring.key == PlaybookAction.firing_key)
        .order_by(PlaybookAction.updated_at.desc(), PlaybookAction.firing_key,
                  PlaybookAction.position)
        .limit(limit)
    )  # fmt: skip
    if statuses is not None:
        query = query.where(PlaybookAction.status.in_(statuses))
    with store.transaction(read_only=True) as session:
        return [
            ActionOutcome(
                action.firing_key,
                playbook,
                account,
                action.position,
                action.kind,
                action.channel,
                action.status,
                action.attempts,
                action.outcome,
                action.next_attempt_at,
            )
            for action, playbook, account in session.execute(query)
        ]
