"""Scorecards as code: dimensions of weighted measures, each turning one metric into 0-100.

A scorecard is data, validated when it is built: from Python or from TOML. Everything that would
make a score meaningless is refused with a message naming the place to fix: weights that do not
sum to 100, bands with gaps or overlaps, unknown metrics, tiers that do not cover 0-100.

Bands use interval notation: ``"[0.8, inf)"`` is 0.8 and above, ``"[2, 5]"`` is 2 to 5 inclusive,
``"(5, inf)"`` is above 5. A banded measure's bands must tile the whole number line.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import tomllib
from collections.abc import Mapping
from enum import StrEnum
from functools import cached_property
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cs_core._errors import ConfigurationError
from cs_core._metric_registry import installed_metrics

__all__ = [
    "Band",
    "Bands",
    "Dimension",
    "LinearScale",
    "Measure",
    "MissingPolicy",
    "Scorecard",
    "Tier",
    "load_scorecard",
]

_WEIGHT_TOLERANCE = 1e-6
_INTERVAL = re.compile(
    r"^\s*(?P<left>[\[(])\s*(?P<low>[^,\s]+)\s*,\s*(?P<high>[^,\s\])]+)\s*(?P<right>[\])])\s*$"
)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MissingPolicy(StrEnum):
    """What a measure does when its metric has no value for an account."""

    SKIP = "skip"
    """Leave the measure out and share its weight among the others (the default)."""
    NEUTRAL = "neutral"
    """Score it at the measure's ``neutral_points``."""
    WORST = "worst"
    """Score it at the worst points its scale gives."""


def _bound(text: str, interval: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} in {interval!r} is not a number (or inf / -inf)") from None
    if math.isnan(value):
        raise ValueError(f"{interval!r} has a NaN bound")
    return value


class Band(_Model):
    """Values in ``range`` score ``points``."""

    range: str = Field(description='An interval such as "[0.5, 0.8)" or "(5, inf)".')
    points: float = Field(ge=0, le=100)
    label: str | None = Field(default=None, description="Green, Yellow, Red …")

    @cached_property
    def bounds(self) -> tuple[float, bool, float, bool]:
        """``(low, low_included, high, high_included)``."""
        match = _INTERVAL.match(self.range)
        assert match is not None  # checked by the validator
        return (
            _bound(match["low"], self.range),
            match["left"] == "[",
            _bound(match["high"], self.range),
            match["right"] == "]",
        )

    def contains(self, value: float) -> bool:
        """Whether ``value`` falls in this band."""
        low, low_in, high, high_in = self.bounds
        above = value > low or (low_in and value == low)
        below = value < high or (high_in and value == high)
        return above and below

    @model_validator(mode="after")
    def _check_range(self) -> Self:
        if not _INTERVAL.match(self.range):
            raise ValueError(f'range {self.range!r} is not an interval such as "[0.5, 0.8)"')
        low, low_in, high, high_in = self.bounds
        if low > high or (low == high and not (low_in and high_in)):
            raise ValueError(f"range {self.range!r} is empty")
        if (math.isinf(low) and low_in) or (math.isinf(high) and high_in):
            raise ValueError(f"range {self.range!r} cannot include infinity: use ( or )")
        return self


class Bands(_Model):
    """Thresholds to points, as the seeds' Green / Yellow / Red rules are written."""

    kind: Literal["bands"] = "bands"
    bands: tuple[Band, ...] = Field(min_length=1)

    @cached_property
    def ordered(self) -> tuple[Band, ...]:
        """The bands from the lowest values to the highest."""
        return tuple(sorted(self.bands, key=lambda band: (band.bounds[0], not band.bounds[1])))

    def points_for(self, value: float) -> tuple[float, Band]:
        """The points of the band ``value`` falls in, and that band."""
        for band in self.ordered:
            if band.contains(value):
                return band.points, band
        raise AssertionError("validated bands cover every value")  # pragma: no cover

    @property
    def worst_points(self) -> float:
        return min(band.points for band in self.bands)

    @property
    def best_points(self) -> float:
        return max(band.points for band in self.bands)

    @model_validator(mode="after")
    def _check_tiling(self) -> Self:
        ordered = self.ordered
        first_low, _, _, _ = ordered[0].bounds
        if first_low != -math.inf:
            raise ValueError(
                f"bands leave a gap below {first_low:g}: the lowest band must start at -inf"
            )
        for before, after in pairwise(ordered):
            _, _, high, high_in = before.bounds
            low, low_in, _, _ = after.bounds
            if high < low or (high == low and not high_in and not low_in):
                raise ValueError(f"bands {before.range} and {after.range} leave a gap between them")
            if high > low or (high == low and high_in and low_in):
                raise ValueError(f"bands {before.range} and {after.range} overlap")
        _, _, last_high, _ = ordered[-1].bounds
        if last_high != math.inf:
            raise ValueError(
                f"bands leave a gap above {last_high:g}: the highest band must end at inf"
            )
        return self


class LinearScale(_Model):
    """A straight line from ``worst`` (0 points) to ``best`` (100 points), clamped at both ends.

    ``best`` may be below ``worst`` for metrics where less is better.
    """

    kind: Literal["linear"] = "linear"
    worst: float
    best: float

    def points_for(self, value: float) -> float:
        """``value``'s place between worst and best, as 0-100."""
        fraction = (value - self.worst) / (self.best - self.worst)
        return 100.0 * min(1.0, max(0.0, fraction))

    @property
    def worst_points(self) -> float:
        return 0.0

    @property
    def best_points(self) -> float:
        return 100.0

    @model_validator(mode="after")
    def _check_span(self) -> Self:
        if not (math.isfinite(self.worst) and math.isfinite(self.best)):
            raise ValueError("worst and best must be finite numbers")
        if self.worst == self.best:
            raise ValueError(f"worst and best are both {self.worst:g}: the scale has no length")
        return self


Scale = Annotated[Bands | LinearScale, Field(discriminator="kind")]


class Measure(_Model):
    """One metric, turned into 0-100 points by a scale, weighing ``weight`` % of its dimension."""

    name: str = Field(min_length=1)
    metric: str = Field(min_length=1)
    weight: float = Field(gt=0, le=100)
    scale: Scale
    missing: MissingPolicy = MissingPolicy.SKIP
    neutral_points: float = Field(default=50.0, ge=0, le=100)
    description: str | None = None

    def points_when_missing(self) -> float | None:
        """The points a missing value scores, or ``None`` when the measure is skipped."""
        if self.missing is MissingPolicy.NEUTRAL:
            return self.neutral_points
        if self.missing is MissingPolicy.WORST:
            return self.scale.worst_points
        return None


class Dimension(_Model):
    """A group of measures (Usage, Engagement …) weighing ``weight`` % of the score."""

    name: str = Field(min_length=1)
    weight: float = Field(gt=0, le=100)
    measures: tuple[Measure, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_measures(self) -> Self:
        total = sum(measure.weight for measure in self.measures)
        if abs(total - 100) > _WEIGHT_TOLERANCE:
            raise ValueError(
                f"the weights of dimension {self.name!r}'s measures sum to {total:g}, not 100"
            )
        names = [measure.name for measure in self.measures]
        if len(set(names)) != len(names):
            raise ValueError(f"dimension {self.name!r} has two measures of the same name")
        return self


class Tier(_Model):
    """Scores from ``min`` (inclusive) up to the next tier's ``min`` belong to this tier."""

    name: str = Field(min_length=1)
    min: float = Field(ge=0, le=100)


class Scorecard(_Model):
    """A versioned health model: weighted dimensions, their measures, and tiers."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]*$")
    version: int = Field(ge=1)
    name: str = Field(min_length=1)
    description: str = ""
    dimensions: tuple[Dimension, ...] = Field(min_length=1)
    tiers: tuple[Tier, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_scorecard(self) -> Self:
        total = sum(dimension.weight for dimension in self.dimensions)
        if abs(total - 100) > _WEIGHT_TOLERANCE:
            raise ValueError(f"the dimensions' weights sum to {total:g}, not 100")
        names = [dimension.name for dimension in self.dimensions]
        if len(set(names)) != len(names):
            raise ValueError("two dimensions have the same name")
        measures = [m.name for d in self.dimensions for m in d.measures]
        if len(set(measures)) != len(measures):
            raise ValueError("two measures have the same name; measure names must be unique")
        floors = sorted(tier.min for tier in self.tiers)
        if floors[0] != 0:
            raise ValueError(f"tiers start at {floors[0]:g}: one tier must start at 0")
        if len(set(floors)) != len(floors):
            raise ValueError("two tiers start at the same score")
        return self

    @cached_property
    def ordered_tiers(self) -> tuple[Tier, ...]:
        """The tiers from the highest ``min`` down."""
        return tuple(sorted(self.tiers, key=lambda tier: tier.min, reverse=True))

    @property
    def measures(self) -> tuple[Measure, ...]:
        """Every measure, dimension by dimension."""
        return tuple(measure for dimension in self.dimensions for measure in dimension.measures)

    @property
    def metrics(self) -> frozenset[str]:
        """The metrics this scorecard reads."""
        return frozenset(measure.metric for measure in self.measures)

    @cached_property
    def fingerprint(self) -> str:
        """A digest of the definition: two scorecards with the same one score identically."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def tier_for(self, score: float) -> str:
        """The tier of ``score``: the one with the highest ``min`` at or below it."""
        return next(tier.name for tier in self.ordered_tiers if score >= tier.min)

    def check_metrics(self, catalogue: Mapping[str, object], *, source: str | None = None) -> None:
        """Raise :class:`ConfigurationError` if a measure reads a metric ``catalogue`` lacks."""
        unknown = sorted(
            f"{measure.name} reads {measure.metric!r}"
            for measure in self.measures
            if measure.metric not in catalogue
        )
        if unknown:
            raise ConfigurationError(
                f"scorecard {source or repr(self.id)} uses unknown metrics: {'; '.join(unknown)} "
                f"(known: {', '.join(sorted(catalogue))})"
            )

    @classmethod
    def from_toml(
        cls,
        text: str,
        *,
        source: str = "<string>",
        catalogue: Mapping[str, object] | None = None,
    ) -> Scorecard:
        """Build a scorecard from TOML text; ``source`` names it in error messages.

        Its metrics must be in ``catalogue`` (default: the built-in and installed plugins').
        """
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise ConfigurationError(f"{source} is not valid TOML: {error}") from None
        return cls.from_mapping(data, source=source, catalogue=catalogue)

    @classmethod
    def from_mapping(
        cls,
        data: Mapping[str, Any],
        *,
        source: str = "<mapping>",
        catalogue: Mapping[str, object] | None = None,
    ) -> Scorecard:
        """Build a scorecard from plain data, with errors naming the place to fix."""
        try:
            scorecard = cls.model_validate(data)
        except ValidationError as error:
            problems = "; ".join(
                f"{_place(data, detail['loc'])}: {detail['msg'].removeprefix('Value error, ')}"
                for detail in error.errors(include_url=False)
            )
            raise ConfigurationError(f"scorecard {source} is invalid: {problems}") from None
        known = catalogue if catalogue is not None else installed_metrics().catalogue
        scorecard.check_metrics(known, source=source)
        return scorecard


def load_scorecard(path: str | Path, *, catalogue: Mapping[str, object] | None = None) -> Scorecard:
    """Read a scorecard from a TOML file (see :meth:`Scorecard.from_toml`)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigurationError(f"cannot read scorecard {file}: {error.strerror}") from None
    return Scorecard.from_toml(text, source=str(file), catalogue=catalogue)


def _place(data: Any, location: tuple[int | str, ...]) -> str:
    """``dimensions[0].measures[1].weight`` as ``dimension 'Usage' > measure 'active' > weight``."""
    parts: list[str] = []
    node = data
    for step in location:
        if isinstance(step, int) and isinstance(node, list) and step < len(node):
            node = node[step]
            named = node.get("name") if isinstance(node, dict) else None
            parts[-1] = (
                f"{parts[-1].removesuffix('s')} {named!r}" if named else f"{parts[-1]}[{step}]"
            )
        elif isinstance(node, dict) and step in node:
            node = node[step]
            parts.append(str(step))
        else:
            parts.append(str(step))
    return " > ".join(parts) or "(scorecard)"
