"""Scoring one account with a scorecard, and saying why the score is what it is.

The arithmetic is plain and exact: a dimension's score is the weighted mean of its measures'
points; the overall score is the weighted mean of its dimensions. Measures skipped for missing
data give their weight to the others of their dimension, and a dimension with nothing left gives
its weight to the other dimensions. Every measure's contribution is its points times its
effective share of the score, so contributions add up to the score.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from cs_core._scorecard import Band, Bands, LinearScale, Measure, MissingPolicy, Scorecard

__all__ = ["DimensionScore", "HealthScore", "Lever", "MeasureScore", "score_account"]


@dataclass(frozen=True, slots=True)
class MeasureScore:
    """How one measure scored."""

    name: str
    dimension: str
    metric: str
    value: float | None
    """The metric's value, or ``None`` when it was missing."""
    points: float | None
    """0-100, or ``None`` when the measure was skipped."""
    band: str | None
    """The label of the band the value fell in (banded measures)."""
    weight: float
    """The declared weight within its dimension, in %."""
    effective_weight: float
    """Its share of the overall score after renormalisation, 0-1."""
    missing: MissingPolicy | None
    """How a missing value was treated; ``None`` when the value was there."""

    @property
    def contribution(self) -> float:
        """Points this measure adds to the overall score."""
        return 0.0 if self.points is None else self.points * self.effective_weight


@dataclass(frozen=True, slots=True)
class DimensionScore:
    """How one dimension scored."""

    name: str
    weight: float
    """The declared weight, in %."""
    effective_weight: float
    """Its share of the overall score after renormalisation, 0-1."""
    score: float | None
    """0-100, or ``None`` when all its measures were skipped."""

    @property
    def contribution(self) -> float:
        """Points this dimension adds to the overall score."""
        return 0.0 if self.score is None else self.score * self.effective_weight


@dataclass(frozen=True, slots=True)
class Lever:
    """A change to one measure and the points it would add to the score."""

    measure: str
    metric: str
    value: float
    target: str
    """The value to reach, as ``at least 0.8`` or ``below 2``."""
    target_band: str | None
    points: float


@dataclass(frozen=True, slots=True)
class HealthScore:
    """An account's health on one scorecard at one time, with everything that explains it."""

    scorecard_id: str
    scorecard_version: int
    as_of: datetime
    score: float | None
    """0-100, rounded to two decimals; ``None`` when no measure had data."""
    tier: str | None
    dimensions: tuple[DimensionScore, ...]
    measures: tuple[MeasureScore, ...]
    scorecard: Scorecard

    @property
    def inputs(self) -> dict[str, float | None]:
        """The metric values the score was computed from."""
        return {measure.metric: measure.value for measure in self.measures}

    @property
    def missing(self) -> tuple[MeasureScore, ...]:
        """The measures whose metric had no value."""
        return tuple(measure for measure in self.measures if measure.missing is not None)

    def levers(self, limit: int | None = 3) -> list[Lever]:
        """What would move the score most: each measure's next better band, by points gained."""
        found = [
            lever
            for measure_score, measure in zip(self.measures, self.scorecard.measures, strict=True)
            if (lever := _lever(measure_score, measure)) is not None and lever.points > 0
        ]
        found.sort(key=lambda lever: lever.points, reverse=True)
        return found if limit is None else found[:limit]

    def explain(self) -> str:
        """A readable breakdown: dimensions, measures, missing data, and what would move it."""
        head = (
            "no score: no measure had data"
            if self.score is None
            else f"{self.score:.2f} ({self.tier})"
        )
        lines = [
            f"Health {head} on scorecard {self.scorecard_id} v{self.scorecard_version}, "
            f"as of {self.as_of.isoformat()}"
        ]
        for dimension in self.dimensions:
            shown = "skipped (no data)" if dimension.score is None else f"{dimension.score:.1f}"
            lines.append(
                f"  {dimension.name}: {shown}, weight {dimension.weight:g}% "
                f"-> {dimension.contribution:.2f} points"
            )
            for measure in self.measures:
                if measure.dimension == dimension.name:
                    lines.append(f"    {_describe(measure)}")
        if self.missing:
            lines.append("Missing data:")
            lines.extend(f"  {m.name} ({m.metric}): {_missing_text(m)}" for m in self.missing)
        levers = self.levers()
        if levers:
            lines.append("What would move it:")
            lines.extend(
                f"  +{lever.points:.2f}  {lever.measure}: {lever.metric} from {lever.value:g} "
                f"to {lever.target}" + (f" ({lever.target_band})" if lever.target_band else "")
                for lever in levers
            )
        return "\n".join(lines)


def score_account(
    scorecard: Scorecard, values: Mapping[str, float | None], *, as_of: datetime
) -> HealthScore:
    """Score one account from its metric ``values`` (by metric name; absent means missing)."""
    raw: list[tuple[Measure, str, float | None, float | None, str | None]] = []
    for dimension in scorecard.dimensions:
        for measure in dimension.measures:
            value = values.get(measure.metric)
            if value is not None and math.isnan(value):
                value = None
            points, band = _points(measure, value)
            raw.append((measure, dimension.name, value, points, band))

    dimension_scores: dict[str, tuple[float, float] | None] = {}
    for dimension in scorecard.dimensions:
        present = [
            (measure.weight, points)
            for measure, name, _, points, _ in raw
            if name == dimension.name and points is not None
        ]
        total = sum(weight for weight, _ in present)
        dimension_scores[dimension.name] = (
            None if total == 0 else (sum(w * p for w, p in present) / total, total)
        )
    weight_present = sum(
        dimension.weight
        for dimension in scorecard.dimensions
        if dimension_scores[dimension.name] is not None
    )

    dimensions = []
    for dimension in scorecard.dimensions:
        result = dimension_scores[dimension.name]
        dimensions.append(
            DimensionScore(
                name=dimension.name,
                weight=dimension.weight,
                effective_weight=0.0 if result is None else dimension.weight / weight_present,
                score=None if result is None else result[0],
            )
        )
    share = {dimension.name: dimension.effective_weight for dimension in dimensions}
    measures = tuple(
        MeasureScore(
            name=measure.name,
            dimension=dimension_name,
            metric=measure.metric,
            value=value,
            points=points,
            band=band,
            weight=measure.weight,
            effective_weight=0.0
            if points is None or (result := dimension_scores[dimension_name]) is None
            else share[dimension_name] * measure.weight / result[1],
            missing=None if value is not None else measure.missing,
        )
        for measure, dimension_name, value, points, band in raw
    )
    total = math.fsum(dimension.contribution for dimension in dimensions)
    score = None if weight_present == 0 else _to_cents(total)
    return HealthScore(
        scorecard_id=scorecard.id,
        scorecard_version=scorecard.version,
        as_of=as_of,
        score=score,
        tier=None if score is None else scorecard.tier_for(score),
        dimensions=tuple(dimensions),
        measures=measures,
        scorecard=scorecard,
    )


def _to_cents(value: float) -> float:
    """Round half up to the cent, after shedding floating-point noise below 1e-9.

    So noise cannot cross a tier edge or a half cent: a sum that floats to 79.99999999999999 is
    80.00, and one of 43.12499999999999 is 43.13, as the exact arithmetic gives.
    """
    cleaned = Decimal(repr(round(value, 9)))
    return float(cleaned.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _points(measure: Measure, value: float | None) -> tuple[float | None, str | None]:
    if value is None:
        return measure.points_when_missing(), None
    if isinstance(measure.scale, Bands):
        points, band = measure.scale.points_for(value)
        return points, band.label
    return measure.scale.points_for(value), None


def _lever(scored: MeasureScore, measure: Measure) -> Lever | None:
    if scored.value is None or scored.points is None:
        return None
    scale = measure.scale
    if isinstance(scale, LinearScale):
        return Lever(
            measure=scored.name,
            metric=scored.metric,
            value=scored.value,
            target=f"{scale.best:g}",
            target_band=None,
            points=(100.0 - scored.points) * scored.effective_weight,
        )
    bands = scale.ordered
    index = next(i for i, band in enumerate(bands) if band.contains(scored.value))
    neighbours = [bands[i] for i in (index - 1, index + 1) if 0 <= i < len(bands)]
    better = max(neighbours, key=lambda band: band.points, default=None)
    if better is None or better.points <= scored.points:
        return None
    return Lever(
        measure=scored.name,
        metric=scored.metric,
        value=scored.value,
        target=_threshold(better, upward=bands.index(better) > index),
        target_band=better.label,
        points=(better.points - scored.points) * scored.effective_weight,
    )


def _threshold(band: Band, *, upward: bool) -> str:
    low, low_in, high, high_in = band.bounds
    if upward:
        return f"{'at least' if low_in else 'above'} {low:g}"
    return f"{'at most' if high_in else 'below'} {high:g}"


def _describe(measure: MeasureScore) -> str:
    if measure.value is None:
        points = "skipped" if measure.points is None else f"{measure.points:g} points"
        return f"{measure.name} ({measure.metric}): missing, {points}"
    band = f" {measure.band}" if measure.band else ""
    return (
        f"{measure.name} ({measure.metric}) = {measure.value:g}: {measure.points:g} points{band}, "
        f"weight {measure.weight:g}% ({measure.effective_weight:.1%} of the score) "
        f"-> {measure.contribution:.2f}"
    )


def _missing_text(measure: MeasureScore) -> str:
    if measure.missing is MissingPolicy.SKIP:
        return "skipped, its weight shared among the other measures"
    if measure.missing is MissingPolicy.NEUTRAL:
        return f"scored neutral ({measure.points:g} points)"
    return f"scored at the worst ({measure.points:g} points)"
