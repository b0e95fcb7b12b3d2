"""Reading health back: an account's history of scores and its trend over a window."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cs_core._errors import CSError
from cs_core._tables import HealthHistory
from cs_core._types import utc_moment

__all__ = ["HealthChange", "HealthTrend", "health_history", "health_trend"]


@dataclass(frozen=True, slots=True)
class HealthChange:
    """One row of an account's health history."""

    as_of: datetime
    score: float | None
    tier: str | None
    previous_score: float | None
    cause: str
    """``first``, ``customer`` (its data moved the score) or ``scorecard`` (the model changed)."""
    scorecard_id: str
    scorecard_version: int

    @classmethod
    def of(cls, row: Any) -> HealthChange:
        """The change a ``health_history`` row (or a row with its columns) records."""
        return cls(as_of=row.as_of, score=row.score, tier=row.tier,
                   previous_score=row.previous_score, cause=row.cause,
                   scorecard_id=row.scorecard_id,
                   scorecard_version=row.scorecard_version)  # fmt: skip


@dataclass(frozen=True, slots=True)
class HealthTrend:
    """How an account's score moved over a window."""

    days: int
    start: float | None
    """The score in force at the start of the window (``None``: not scored yet)."""
    end: float | None

    @property
    def change(self) -> float | None:
        """Points gained (negative: lost) over the window."""
        if self.start is None or self.end is None:
            return None
        return round(self.end - self.start, 2)


def health_history(session: Session, account_id: int) -> Sequence[HealthChange]:
    """Every change of the account's health, oldest first."""
    rows = session.scalars(
        select(HealthHistory)
        .where(HealthHistory.account_id == account_id)
        .order_by(HealthHistory.as_of, HealthHistory.id)
    )
    return [HealthChange.of(row) for row in rows]


def health_trend(session: Session, account_id: int, *, days: int, as_of: datetime) -> HealthTrend:
    """The change of the account's score over the ``days`` before ``as_of`` (7, 30, 90 …)."""
    if days < 1:
        raise CSError(f"a trend window is at least 1 day, not {days}")
    as_of = utc_moment(as_of, "as_of")

    def score_at(moment: datetime) -> float | None:
        return session.scalar(
            select(HealthHistory.score)
            .where(HealthHistory.account_id == account_id, HealthHistory.as_of <= moment)
            .order_by(HealthHistory.as_of.desc(), HealthHistory.id.desc())
            .limit(1)
        )

    return HealthTrend(days=days, start=score_at(as_of - timedelta(days=days)), end=score_at(as_of))
