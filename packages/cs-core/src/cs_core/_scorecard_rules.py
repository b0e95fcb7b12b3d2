"""Which scorecard judges which account: rules on segment and lifecycle stage.

Onboarding accounts are not judged like mature ones. Rules are tried in order; the first whose
conditions all hold chooses the scorecard, and the last rule must hold for every account.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.resources import files
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cs_core._enums import LifecycleStage, Segment
from cs_core._errors import ConfigurationError
from cs_core._scorecard import Scorecard

__all__ = ["ScorecardRule", "ScorecardRules", "builtin_scorecards"]


class ScorecardRule(BaseModel):
    """Accounts matching every given condition are scored with ``scorecard``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    scorecard: str
    segments: frozenset[Segment] | None = None
    lifecycle_stages: frozenset[LifecycleStage] | None = None

    def matches(self, segment: Segment, stage: LifecycleStage) -> bool:
        """Whether an account of ``segment`` in ``stage`` falls under this rule."""
        return (self.segments is None or segment in self.segments) and (
            self.lifecycle_stages is None or stage in self.lifecycle_stages
        )

    @property
    def is_catch_all(self) -> bool:
        return self.segments is None and self.lifecycle_stages is None


class ScorecardRules(BaseModel):
    """An ordered list of rules, the last a catch-all."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rules: tuple[ScorecardRule, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_rules(self) -> Self:
        if not self.rules[-1].is_catch_all:
            raise ValueError(
                "the last rule must have no conditions, so that every account gets a scorecard"
            )
        return self

    def choose(self, segment: Segment, stage: LifecycleStage) -> str:
        """The id of the scorecard for an account of ``segment`` in ``stage``."""
        return next(rule.scorecard for rule in self.rules if rule.matches(segment, stage))

    def check_scorecards(self, scorecards: Mapping[str, Scorecard]) -> None:
        """Raise :class:`ConfigurationError` if a rule names a scorecard not in ``scorecards``."""
        unknown = sorted({r.scorecard for r in self.rules} - set(scorecards))
        if unknown:
            raise ConfigurationError(
                f"scorecard rules name unknown scorecards: {', '.join(unknown)} "
                f"(known: {', '.join(sorted(scorecards))})"
            )

    @classmethod
    def default(cls) -> ScorecardRules:
        """Onboarding accounts on the onboarding scorecard; everyone else on the SOP's."""
        return cls(
            rules=(
                ScorecardRule(
                    scorecard="onboarding", lifecycle_stages=frozenset({LifecycleStage.ONBOARDING})
                ),
                ScorecardRule(scorecard="sop"),
            )
        )


def builtin_scorecards() -> dict[str, Scorecard]:
    """The scorecards that ship with cs-core, by id: the seeds' three models and onboarding."""
    found: dict[str, Scorecard] = {}
    for resource in sorted(files("cs_core").joinpath("scorecards").iterdir(), key=str):
        if resource.name.endswith(".toml"):
            scorecard = Scorecard.from_toml(resource.read_text("utf-8"), source=resource.name)
            found[scorecard.id] = scorecard
    return found
