"""Playbooks as data: a trigger, conditions and actions, declared in TOML or in Python.

```toml
[[playbook]]
name = "red-save"
title = "Red account: executive escalation and save motion"
trigger = { kind = "tier_entered", tier = "Red" }
conditions = [{ kind = "no_open_task", type = "risk" }]

[[playbook.actions]]
kind = "create_task"
type = "risk"
title = "Save plan for {account_name}"
priority = "urgent"
due_in_days = 2
```

Triggers are either **events** from the outbox (a tier entered or left, a score drop, a signal, a
lifecycle stage, an overdue milestone, a contact's role change, any event type) or **states**
evaluated at each run (a renewal window, usage over a share of entitlement, no activity for N
days). Text in actions is a template over the fields in :data:`TEMPLATE_FIELDS`.
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Mapping
from decimal import Decimal
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from cs_core._enums import (
    LifecycleStage,
    OnboardingMilestone,
    Segment,
    TaskPriority,
    TaskType,
)
from cs_core._errors import ConfigurationError
from cs_core._settings import Settings
from cs_core._signals import Severity

__all__ = [
    "TEMPLATE_FIELDS",
    "Action",
    "Condition",
    "ContactRoleChanged",
    "CreateTask",
    "Escalate",
    "EventOccurred",
    "HealthTier",
    "MilestoneOverdue",
    "MinArr",
    "NegativeNps",
    "NoActivity",
    "NoActivityFor",
    "NoOpenTask",
    "Notify",
    "Playbook",
    "RenewalWindow",
    "ScoreDrop",
    "SegmentIn",
    "SetFlag",
    "SignalFired",
    "StageEntered",
    "StageIn",
    "TierEntered",
    "TierLeft",
    "Trigger",
    "UsageOverEntitlement",
    "builtin_playbooks",
    "installed_playbooks",
    "load_playbooks",
]

TEMPLATE_FIELDS = frozenset(
    {"account", "account_name", "owner", "segment", "tier", "score", "stage", "reason",
     "playbook"}
)  # fmt: skip
"""The fields a title or message may name, as ``{account_name}``."""


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# Triggers on outbox events.


class TierEntered(_Spec):
    """The account's health entered ``tier`` (``health.changed``)."""

    kind: Literal["tier_entered"]
    tier: str = Field(min_length=1)


class TierLeft(_Spec):
    """The account's health left ``tier`` (``health.changed``)."""

    kind: Literal["tier_left"]
    tier: str = Field(min_length=1)


class ScoreDrop(_Spec):
    """The score fell by at least ``points`` in one change (``health.changed``)."""

    kind: Literal["score_drop"]
    points: float = Field(gt=0)


class SignalFired(_Spec):
    """A predictive signal opened (``signal.fired``), of one of ``signals`` (default: any) and
    one of ``severities`` (default: any)."""

    kind: Literal["signal_fired"]
    signals: frozenset[str] | None = None
    severities: frozenset[Severity] | None = None


class NegativeNps(_Spec):
    """A negative NPS answer (6 or less) opened the ``negative_nps`` signal."""

    kind: Literal["negative_nps"]


class StageEntered(_Spec):
    """The account entered lifecycle ``stage`` (``lifecycle.stage_changed``)."""

    kind: Literal["stage_entered"]
    stage: LifecycleStage


class MilestoneOverdue(_Spec):
    """An onboarding milestone (any, or ``milestone``) became overdue (``milestone.overdue``)."""

    kind: Literal["milestone_overdue"]
    milestone: OnboardingMilestone | None = None


class ContactRoleChanged(_Spec):
    """A contact's title or role (champion, sponsor) changed (``contact.role_changed``);
    ``became`` narrows it to contacts who became a champion or an executive sponsor."""

    kind: Literal["contact_role_changed"]
    became: Literal["champion", "executive_sponsor"] | None = None


class EventOccurred(_Spec):
    """Any outbox event of ``type``; one without an account (a product launch) reaches every
    account the conditions admit."""

    kind: Literal["event"]
    type: str = Field(min_length=1)


# Triggers on states, evaluated at each run.


class RenewalWindow(_Spec):
    """A contract in force renews within ``days`` and has not renewed."""

    kind: Literal["renewal_window"]
    days: int = Field(ge=0)


class UsageOverEntitlement(_Spec):
    """Active users (the daily peak of 30 days) reached ``share`` of the licensed seats."""

    kind: Literal["usage_over_entitlement"]
    share: float = Field(gt=0, le=10)


class NoActivity(_Spec):
    """No active user for at least ``days`` days (accounts that were once active)."""

    kind: Literal["no_activity"]
    days: int = Field(ge=1)


Trigger = Annotated[
    TierEntered | TierLeft | ScoreDrop | SignalFired | NegativeNps | StageEntered
    | MilestoneOverdue | ContactRoleChanged | EventOccurred | RenewalWindow
    | UsageOverEntitlement | NoActivity,
    Field(discriminator="kind"),
]  # fmt: skip
STATE_TRIGGERS = (RenewalWindow, UsageOverEntitlement, NoActivity)


# Conditions, checked on the account when the trigger fires.


class HealthTier(_Spec):
    """The account's effective health tier is one of ``tiers`` (any case)."""

    kind: Literal["tier"]
    tiers: frozenset[str] = Field(min_length=1)


class SegmentIn(_Spec):
    """The account is of one of ``segments``."""

    kind: Literal["segment"]
    segments: frozenset[Segment] = Field(min_length=1)


class StageIn(_Spec):
    """The account's lifecycle stage is one of ``stages``."""

    kind: Literal["stage"]
    stages: frozenset[LifecycleStage] = Field(min_length=1)


class MinArr(_Spec):
    """The account's ARR is at least ``arr``."""

    kind: Literal["min_arr"]
    arr: Decimal = Field(ge=0)


class NoOpenTask(_Spec):
    """Absence: the account has no open task (of ``type``, if given)."""

    kind: Literal["no_open_task"]
    type: TaskType | None = None


class NoActivityFor(_Spec):
    """Absence: no active user for at least ``days`` days."""

    kind: Literal["no_activity_for"]
    days: int = Field(ge=1)


Condition = Annotated[
    HealthTier | SegmentIn | StageIn | MinArr | NoOpenTask | NoActivityFor,
    Field(discriminator="kind"),
]


# Actions.


def _check_template(text: str) -> str:
    try:
        names = {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}
    except ValueError as error:
        raise ValueError(f"{text!r} is not a valid template: {error}") from None
    unknown = sorted(names - TEMPLATE_FIELDS)
    if unknown:
        raise ValueError(
            f"{text!r} names {', '.join('{' + name + '}' for name in unknown)}; a template may "
            f"name {', '.join(sorted(TEMPLATE_FIELDS))}"
        )
    return text


class CreateTask(_Spec):
    """Create a task for the account: a CTA of a type, for a role, due in some days."""

    kind: Literal["create_task"]
    type: TaskType
    title: str = Field(min_length=1, max_length=500)
    owner_role: str = "csm"
    """``csm`` assigns the account's owner; other roles (``renewal_ops``…) stay with the role."""
    priority: TaskPriority = TaskPriority.MEDIUM
    due_in_days: int = Field(default=7, ge=0)

    _title = field_validator("title")(_check_template)


class Notify(_Spec):
    """Send ``message`` through a channel declared in the policies (``[playbooks.channels]``)."""

    kind: Literal["notify"]
    channel: str = Field(min_length=1)
    message: str = Field(min_length=1)

    _message = field_validator("message")(_check_template)


class SetFlag(_Spec):
    """Set a named flag on the account."""

    kind: Literal["set_flag"]
    flag: str = Field(pattern=r"^[a-z0-9_.\-]{1,63}$")
    value: str = "true"


class Escalate(_Spec):
    """Hand the account's open tasks to the next role of the escalation chain, one priority up."""

    kind: Literal["escalate"]


Action = Annotated[CreateTask | Notify | SetFlag | Escalate, Field(discriminator="kind")]


class Playbook(_Spec):
    """When to act (trigger, conditions) and what to do (actions)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]{0,62}$")
    title: str = Field(min_length=1)
    description: str = ""
    enabled: bool = True
    trigger: Trigger
    conditions: tuple[Condition, ...] = ()
    actions: tuple[Action, ...] = Field(min_length=1)
    effect_days: int | None = Field(default=None, ge=1)
    """Days after firing to judge whether health recovered (default: the policies')."""

    @property
    def is_state_triggered(self) -> bool:
        return isinstance(self.trigger, STATE_TRIGGERS)


_PLAYBOOK_FILE = TypeAdapter(dict[Literal["playbook"], list[Playbook]])


def _problems(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
        for problem in error.errors()
    )


def _parse(document: Mapping[str, Any], origin: str) -> list[Playbook]:
    try:
        parsed = _PLAYBOOK_FILE.validate_python(dict(document))
    except ValidationError as error:
        raise ConfigurationError(f"{origin} is not valid: {_problems(error)}") from None
    found = parsed.get("playbook", [])
    names = [playbook.name for playbook in found]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ConfigurationError(f"{origin} declares {', '.join(repeated)} more than once")
    return found


def load_playbooks(path: Path | str) -> list[Playbook]:
    """The playbooks of a TOML file, or of every ``*.toml`` file in a folder (by name)."""
    chosen = Path(path).expanduser()
    if chosen.is_dir():
        sources = sorted(chosen.glob("*.toml"))
    elif chosen.is_file():
        sources = [chosen]
    else:
        raise ConfigurationError(f"playbooks path {chosen} is neither a file nor a folder")
    found: dict[str, Playbook] = {}
    for source in sources:
        try:
            document = tomllib.loads(source.read_text())
        except tomllib.TOMLDecodeError as error:
            raise ConfigurationError(
                f"playbooks file {source} is not valid TOML: {error}"
            ) from None
        for playbook in _parse(document, f"playbooks file {source}"):
            if playbook.name in found:
                raise ConfigurationError(
                    f"playbook {playbook.name!r} is declared in two files under {chosen}"
                )
            found[playbook.name] = playbook
    return list(found.values())


def builtin_playbooks() -> list[Playbook]:
    """The playbooks of the seeds, shipped with cs-core."""
    resource = files("cs_core").joinpath("playbooks.toml")
    return _parse(tomllib.loads(resource.read_text()), "the built-in playbooks")


def installed_playbooks(path: Path | str | None = None) -> list[Playbook]:
    """The built-in playbooks with those of ``path`` (default: ``CS_PLAYBOOKS``, if set); a
    playbook of the same name replaces the built-in one (``enabled = false`` turns it off)."""
    chosen = path if path is not None else Settings().playbooks
    playbooks = {playbook.name: playbook for playbook in builtin_playbooks()}
    if chosen is not None:
        playbooks.update((playbook.name, playbook) for playbook in load_playbooks(chosen))
    return list(playbooks.values())
