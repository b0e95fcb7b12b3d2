"""An account's health in the schema: the score now, why it is what it is, and how it moved."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import strawberry
from cachetools import LRUCache

from cs_core import (
    HealthChange,
    HealthOverride,
    HealthScore,
    HealthScoreRow,
    InvalidArgumentError,
    Scorecard,
    score_account,
)
from cs_core import HealthTrend as HealthTrendValue
from cs_server._context import Info
from cs_server._pages import check_page_size

__all__ = ["MAX_TREND_DAYS", "Health", "Override"]

MAX_TREND_DAYS = 3660
"""The longest trend window, ten years: health is not kept longer in any useful sense."""

_RebuildKey = tuple[str, datetime, tuple[float | None, ...]]
_rebuilt_scores: LRUCache[_RebuildKey, HealthScore] = LRUCache(maxsize=2048)
"""Scores rebuilt lately, by scorecard (its fingerprint), moment and metric values: rebuilding
costs ~90 us an account, and the same accounts are asked for again and again while their
stored scores stay as they are. Resolvers run on the event loop, so one thread uses it."""


@strawberry.type(description="How one measure of the scorecard scored.")
class Measure:
    name: str
    dimension: str
    metric: str
    value: float | None = strawberry.field(description="The metric's value; null: missing.")
    points: float | None = strawberry.field(description="0-100; null: skipped.")
    band: str | None
    weight: float = strawberry.field(description="Declared weight within its dimension, in %.")
    contribution: float = strawberry.field(description="Points it adds to the score.")


@strawberry.type(description="How one dimension scored, and its measures.")
class Dimension:
    name: str
    weight: float = strawberry.field(description="Declared weight, in %.")
    score: float | None
    contribution: float = strawberry.field(description="Points it adds to the score.")
    measures: list[Measure]


@strawberry.type(description="A change to one measure and the points it would add.")
class Lever:
    measure: str
    metric: str
    value: float
    target: str
    target_band: str | None
    points: float


@strawberry.type(description="A person's judgement replacing the computed score.")
class Override:
    score: float
    tier: str
    reason: str
    author: str
    created_at: datetime
    expires_at: datetime | None

    @classmethod
    def of(cls, row: HealthOverride) -> Override:
        return cls(score=row.score, tier=row.tier, reason=row.reason, author=row.author,
                   created_at=row.created_at, expires_at=row.expires_at)  # fmt: skip


@strawberry.type(description="How the computed score moved over a window ending now.")
class HealthTrend:
    days: int = strawberry.field(description="The window, in days before now.")
    start: float | None = strawberry.field(
        description="The score in force when the window began; null: not scored yet then."
    )
    end: float | None = strawberry.field(description="The score in force now.")
    change: float | None = strawberry.field(
        description="Points gained (negative: lost) over the window; null without both ends."
    )

    @classmethod
    def of(cls, trend: HealthTrendValue) -> HealthTrend:
        return cls(days=trend.days, start=trend.start, end=trend.end, change=trend.change)


@strawberry.type(description="One change of the computed health, as a scoring run recorded it.")
class HealthHistoryEntry:
    as_of: datetime
    score: float | None
    tier: str | None
    previous_score: float | None
    cause: str = strawberry.field(
        description="first, customer (its data moved the score) or scorecard (the model changed)."
    )
    scorecard: str
    scorecard_version: int

    @classmethod
    def of(cls, change: HealthChange) -> HealthHistoryEntry:
        return cls(as_of=change.as_of, score=change.score, tier=change.tier,
                   previous_score=change.previous_score, cause=change.cause,
                   scorecard=change.scorecard_id,
                   scorecard_version=change.scorecard_version)  # fmt: skip


@strawberry.type(description="An account's health as it counts now, and why it is what it is.")
class Health:
    score: float | None = strawberry.field(description="The override's if one is in force.")
    tier: str | None
    computed_score: float | None
    computed_tier: str | None
    override: Override | None
    scorecard: str
    scorecard_version: int
    as_of: datetime
    account_key: strawberry.Private[int]
    measures_stored: strawberry.Private[dict[str, Any]]
    card: strawberry.Private[Scorecard | None]
    rebuilt: strawberry.Private[list[HealthScore]]

    @classmethod
    def of(
        cls,
        computed: HealthScoreRow,
        override: HealthOverride | None,
        scorecards: Mapping[str, Scorecard],
    ) -> Health:
        card = scorecards.get(computed.scorecard_id)
        if card is not None and card.version != computed.scorecard_version:
            card = None
        return cls(
            score=override.score if override else computed.score,
            tier=override.tier if override else computed.tier,
            computed_score=computed.score,
            computed_tier=computed.tier,
            override=Override.of(override) if override else None,
            scorecard=computed.scorecard_id,
            scorecard_version=computed.scorecard_version,
            as_of=computed.as_of,
            account_key=computed.account_id,
            measures_stored=dict(computed.measures),
            card=card,
            rebuilt=[],
        )

    def _explained(self) -> HealthScore | None:
        """The score rebuilt from the stored metric values: the same points, dimensions and
        levers the run computed, without reading usage again. ``None`` when the scorecard that
        scored it is not installed."""
        if self.card is None:
            return None
        if not self.rebuilt:
            values = {
                measure.metric: (self.measures_stored.get(measure.name) or [None])[0]
                for measure in self.card.measures
            }
            key = (self.card.fingerprint, self.as_of, tuple(values.values()))
            if (score := _rebuilt_scores.get(key)) is None:
                score = _rebuilt_scores[key] = score_account(self.card, values, as_of=self.as_of)
            self.rebuilt.append(score)
        return self.rebuilt[0]

    @strawberry.field(description="Dimensions with their measures, points and weights.")
    def dimensions(self) -> list[Dimension]:
        health = self._explained()
        if health is None:
            return []
        return [
            Dimension(
                name=dimension.name,
                weight=dimension.weight,
                score=dimension.score,
                contribution=round(dimension.contribution, 4),
                measures=[
                    Measure(
                        name=m.name,
                        dimension=m.dimension,
                        metric=m.metric,
                        value=m.value,
                        points=m.points,
                        band=m.band,
                        weight=m.weight,
                        contribution=round(m.contribution, 4),
                    )
                    for m in health.measures
                    if m.dimension == dimension.name
                ],
            )
            for dimension in health.dimensions
        ]

    @strawberry.field(description="A readable breakdown of the computed score.")
    def explanation(self) -> str:
        health = self._explained()
        if health is None:
            return f"scorecard {self.scorecard} v{self.scorecard_version} is not installed here"
        return health.explain()

    @strawberry.field(description="What would move the computed score most.")
    def levers(self, limit: int = 3) -> list[Lever]:
        health = self._explained()
        if health is None:
            return []
        return [
            Lever(
                measure=lever.measure,
                metric=lever.metric,
                value=lever.value,
                target=lever.target,
                target_band=lever.target_band,
                points=round(lever.points, 2),
            )
            for lever in health.levers(max(1, min(limit, 20)))
        ]

    @strawberry.field(
        description="How the computed score moved over the last `days` days (7, 30, 90…), from "
        "the health history: the score in force then against the score in force now."
    )
    async def trend(self, info: Info, days: int = 30) -> HealthTrend:
        if not 1 <= days <= MAX_TREND_DAYS:
            raise InvalidArgumentError(f"days is from 1 to {MAX_TREND_DAYS}, not {days}")
        return HealthTrend.of(
            await info.context.loaders.health_trends.load((self.account_key, days))
        )

    @strawberry.field(
        description="The latest changes of the computed health, newest first: a scoring run "
        "records one only when the score, tier or scorecard changed."
    )
    async def history(self, info: Info, first: int = 10) -> list[HealthHistoryEntry]:
        check_page_size(first)
        changes = await info.context.loaders.health_histories.load((self.account_key, first))
        return [HealthHistoryEntry.of(change) for change in changes]
