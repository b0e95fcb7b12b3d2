"""Policies: the operating numbers of the seeds (support SLAs, escalation, renewal tracks).

The shipped defaults live in ``cs_core/policies/default.toml``. A user's own TOML file, named by
``CS_POLICIES`` or ``cs --policies``, is laid over them: tables merge key by key, arrays are
replaced whole, so a file that sets only ``[support.sla.p1] resolution = "2h"`` changes only that.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from datetime import date, timedelta
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cs_core._enums import OnboardingMilestone, RenewalTrack, Segment, TicketPriority
from cs_core._errors import ConfigurationError
from cs_core._settings import Settings
from cs_core._signals import Severity
from cs_core._types import Duration

__all__ = [
    "Channel",
    "EscalationPath",
    "LifecyclePolicy",
    "OnboardingPolicy",
    "OnboardingTrack",
    "PlaybookPolicy",
    "Policies",
    "RenewalPolicy",
    "RenewalStep",
    "RenewalTrackPolicy",
    "SlaTarget",
    "SupportPolicy",
    "load_policies",
]


class _Policy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SlaTarget(_Policy):
    """How soon a ticket of one priority must get its first response and its resolution."""

    first_response: Duration
    resolution: Duration

    @model_validator(mode="after")
    def _check_order(self) -> Self:
        if self.resolution < self.first_response:
            raise ValueError("resolution must not come before first_response")
        return self


class EscalationPath(_Policy):
    """The escalation path: its levels, and which breach moves a ticket to which level."""

    levels: tuple[str, ...] = Field(min_length=1)
    on_response_breach: str
    on_resolution_breach: str
    executive: str
    executive_after: float = Field(gt=1)
    """Multiple of the resolution target after which an urgent open ticket goes to ``executive``."""
    executive_priorities: frozenset[TicketPriority]

    @model_validator(mode="after")
    def _check_levels(self) -> Self:
        if len(set(self.levels)) != len(self.levels):
            raise ValueError("levels must not repeat")
        for name in ("on_response_breach", "on_resolution_breach", "executive"):
            if getattr(self, name) not in self.levels:
                raise ValueError(
                    f"{name} {getattr(self, name)!r} is not one of the levels {list(self.levels)}"
                )
        return self

    def level(self, name: str) -> int:
        """The 1-based number of level ``name``."""
        return self.levels.index(name) + 1


class SupportPolicy(_Policy):
    """SLA targets for every priority, and the escalation path."""

    sla: dict[TicketPriority, SlaTarget]
    escalation: EscalationPath

    @model_validator(mode="after")
    def _check_priorities(self) -> Self:
        missing = [priority.value for priority in TicketPriority if priority not in self.sla]
        if missing:
            raise ValueError(f"sla has no targets for {', '.join(missing)}")
        return self


class RenewalStep(_Policy):
    """One step of a renewal track, due ``days_before`` the renewal date (negative: after)."""

    step: str = Field(min_length=1, max_length=63)
    days_before: int
    until_days_before: int | None = None
    """For a window (negotiation from 90 to 60 days): the day it closes."""
    owner: str = Field(min_length=1)
    action: str = Field(min_length=1)

    @model_validator(mode="after")
    def _check_window(self) -> Self:
        if self.until_days_before is not None and self.until_days_before >= self.days_before:
            raise ValueError(
                f"step {self.step!r}: until_days_before ({self.until_days_before}) must be "
                f"fewer days than days_before ({self.days_before})"
            )
        return self

    def due(self, renewal: date) -> date:
        """The day the step is due for a renewal on ``renewal``."""
        return renewal - timedelta(days=self.days_before)

    def closes(self, renewal: date) -> date:
        """The last day of the step: the window's end, or the day it is due."""
        return renewal - timedelta(days=self.until_days_before or self.days_before)


class RenewalTrackPolicy(_Policy):
    """A track's steps, from the earliest to the last."""

    steps: tuple[RenewalStep, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_steps(self) -> Self:
        names = [step.step for step in self.steps]
        if len(set(names)) != len(names):
            raise ValueError(f"steps repeat a name: {names}")
        days = [step.days_before for step in self.steps]
        if days != sorted(days, reverse=True):
            raise ValueError(
                "steps must be listed from the earliest (most days before) to the last"
            )
        return self

    @property
    def opens_days_before(self) -> int:
        """How many days before the renewal date the track's first step is due."""
        return self.steps[0].days_before


class RenewalPolicy(_Policy):
    """Renewal tracks, what counts as renewed, and how likely a renewal is."""

    grace_days: int = Field(ge=0)
    likelihood: dict[str, float]
    """Per health tier (lower case, plus ``unscored``), the chance that the renewal closes."""
    signal_penalty: dict[Severity, float]
    tracks: dict[RenewalTrack, RenewalTrackPolicy]

    @model_validator(mode="after")
    def _check(self) -> Self:
        missing = [track.value for track in RenewalTrack if track not in self.tracks]
        if missing:
            raise ValueError(f"tracks has no steps for {', '.join(missing)}")
        if "unscored" not in self.likelihood:
            raise ValueError("likelihood needs an 'unscored' value for accounts without a score")
        shares = [*self.likelihood.items(), *self.signal_penalty.items()]
        for name, value in shares:
            if not 0 <= value <= 1:
                raise ValueError(f"{name}: {value} is not a probability between 0 and 1")
        return self

    @property
    def grace(self) -> timedelta:
        return timedelta(days=self.grace_days)

    def base_likelihood(self, tier: str | None) -> float:
        """The likelihood for a tier (any case); a tier the policy does not name is unscored."""
        return self.likelihood.get((tier or "unscored").lower(), self.likelihood["unscored"])


class OnboardingTrack(_Policy):
    """A segment's onboarding: who owns it, how long it should take, when each milestone is due."""

    owner: str = Field(min_length=1)
    days: tuple[int, int]
    """The target duration, shortest to longest, in days from the start."""
    milestones: dict[OnboardingMilestone, int]
    """Per milestone, the day after the start it is due."""

    @model_validator(mode="after")
    def _check(self) -> Self:
        shortest, longest = self.days
        if not 0 <= shortest <= longest:
            raise ValueError(f"days {list(self.days)} must be two day counts, shortest first")
        missing = [m.value for m in OnboardingMilestone if m not in self.milestones]
        if missing:
            raise ValueError(f"milestones has no due day for {', '.join(missing)}")
        due = [self.milestones[m] for m in OnboardingMilestone]
        if due != sorted(due) or due[0] < 0:
            raise ValueError(
                "milestones must fall due in order (kickoff, technical_setup, first_value, "
                f"training, handoff) from day 0, not on days {due}"
            )
        if due[-1] > longest:
            raise ValueError(f"handoff (day {due[-1]}) comes after the track's {longest} days")
        return self


class OnboardingPolicy(_Policy):
    """The onboarding track of each segment."""

    tracked_days: int = Field(ge=0)
    tracks: dict[Segment, OnboardingTrack]

    @model_validator(mode="after")
    def _check(self) -> Self:
        missing = [segment.value for segment in Segment if segment not in self.tracks]
        if missing:
            raise ValueError(f"tracks has no onboarding track for {', '.join(missing)}")
        return self


class LifecyclePolicy(_Policy):
    """The numbers the lifecycle stages are decided by."""

    renewal_window_days: int = Field(ge=0)
    adoption_days: int = Field(ge=0)
    adoption_active_user_ratio: float = Field(ge=0, le=1)
    adoption_workflows: float = Field(ge=0)


class Channel(_Policy):
    """A notification channel: the action that sends through it and that action's options."""

    model_config = ConfigDict(frozen=True, extra="allow")

    action: str = Field(min_length=1)

    @property
    def options(self) -> dict[str, Any]:
        """Everything but ``action``: what the action plugin reads."""
        return dict(self.model_extra or {})


class PlaybookPolicy(_Policy):
    """How the playbook engine escalates, measures effect, and retries deliveries."""

    escalation_chain: tuple[str, ...] = Field(min_length=1)
    lookback_days: int = Field(ge=0)
    effect_days: int = Field(ge=1)
    recovery_points: float = Field(ge=0)
    max_attempts: int = Field(ge=1)
    retry_minutes: float = Field(gt=0)
    """The first wait before retrying a failed delivery; each retry waits twice as long."""
    channels: dict[str, Channel] = Field(default_factory=dict)

    def next_owner_role(self, role: str) -> str:
        """The role after ``role`` on the escalation chain (the last stays the last)."""
        chain = self.escalation_chain
        if role not in chain:
            return chain[0]
        return chain[min(chain.index(role) + 1, len(chain) - 1)]


class Policies(_Policy):
    """Every policy cs-core acts on."""

    support: SupportPolicy
    renewals: RenewalPolicy
    onboarding: OnboardingPolicy
    lifecycle: LifecyclePolicy
    playbooks: PlaybookPolicy


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except tomllib.TOMLDecodeError as error:
        raise ConfigurationError(f"policies file {path} is not valid TOML: {error}") from None


def load_policies(path: Path | str | None = None) -> Policies:
    """The shipped policies with ``path`` (default: ``CS_POLICIES``, if set) laid over them."""
    chosen = Path(path) if path is not None else Settings().policies
    if chosen is None:
        return _load(None, None)
    resolved = chosen.expanduser().resolve()
    try:
        modified = resolved.stat().st_mtime_ns
    except FileNotFoundError:
        raise ConfigurationError(f"policies file {resolved} does not exist") from None
    return _load(resolved, modified)


@lru_cache(maxsize=8)
def _load(path: Path | None, modified: int | None) -> Policies:
    """The policies of ``path`` as it was when last ``modified`` (so an edited file is reread)."""
    with files("cs_core").joinpath("policies", "default.toml").open("rb") as file:
        document = tomllib.load(file)
    if path is not None:
        document = _merge(document, _read(path))
    try:
        return Policies.model_validate(document)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
            for problem in error.errors()
        )
        origin = f"policies file {path}" if path is not None else "the shipped policies"
        raise ConfigurationError(f"{origin} is not valid: {problems}") from None
