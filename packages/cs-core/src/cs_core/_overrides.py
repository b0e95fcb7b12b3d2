"""Overrides: a person's judgement in place of the computed score, kept as an auditable object.

An override says who set which score, why, and until when. While it is in force the effective
health is the override's; the computed score goes on being computed and kept. Override rates per
scorecard say how often people disagree with a model: if CSMs override often, the model is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from cs_core._errors import CSError
from cs_core._outbox import append_event
from cs_core._scorecard import Scorecard
from cs_core._scorecard_rules import builtin_scorecards
from cs_core._tables import HealthOverride, HealthScoreRow
from cs_core._types import utc_moment

__all__ = [
    "HEALTH_OVERRIDDEN",
    "HEALTH_OVERRIDE_CLEARED",
    "EffectiveHealth",
    "OverrideRate",
    "clear_override",
    "effective_health",
    "override_health",
    "override_in_force",
    "override_rates",
]

HEALTH_OVERRIDDEN = "health.overridden"
HEALTH_OVERRIDE_CLEARED = "health.override_cleared"


@dataclass(frozen=True, slots=True)
class EffectiveHealth:
    """An account's computed health, the override in force if any, and what counts."""

    computed_score: float | None
    computed_tier: str | None
    override: HealthOverride | None

    @property
    def score(self) -> float | None:
        return self.override.score if self.override else self.computed_score

    @property
    def tier(self) -> str | None:
        return self.override.tier if self.override else self.computed_tier

    @property
    def overridden(self) -> bool:
        return self.override is not None


@dataclass(frozen=True, slots=True)
class OverrideRate:
    """For one scorecard: accounts it scores, how many carry an override, and the share."""

    scorecard_id: str
    accounts: int
    overridden: int

    @property
    def rate(self) -> float:
        return self.overridden / self.accounts if self.accounts else 0.0


def override_in_force(moment: datetime) -> ColumnElement[bool]:
    """SQL: the override is in force at ``moment`` (not cleared, begun, not expired)."""
    return (
        HealthOverride.cleared_at.is_(None)
        & (HealthOverride.created_at <= moment)
        & or_(HealthOverride.expires_at.is_(None), HealthOverride.expires_at > moment)
    )


def _active(session: Session, account_id: int, moment: datetime) -> HealthOverride | None:
    return session.scalars(
        select(HealthOverride)
        .where(HealthOverride.account_id == account_id, override_in_force(moment))
        .order_by(HealthOverride.created_at.desc(), HealthOverride.id.desc())
        .limit(1)
    ).first()


def override_health(
    session: Session,
    account_id: int,
    score: float,
    *,
    author: str,
    reason: str,
    expires_at: datetime | None = None,
    now: datetime | None = None,
    scorecards: Mapping[str, Scorecard] | None = None,
) -> HealthOverride:
    """Override an account's health with ``score`` until ``expires_at`` (or until cleared).

    The account must have a computed score: its scorecard gives the override's tier, and the
    override is counted against that scorecard. A new override replaces the one in force.
    Appends a ``health.overridden`` event.
    """
    moment = utc_moment(now, "now")
    if expires_at is not None:
        expires_at = utc_moment(expires_at, "expires_at")
    if not 0 <= score <= 100:
        raise CSError(f"an override score is from 0 to 100, not {score:g}")
    if not reason.strip():
        raise CSError("an override needs a reason: say why the computed score is wrong")
    if not author.strip():
        raise CSError("an override needs an author: who decided it")
    if expires_at is not None and expires_at <= moment:
        raise CSError(f"the override would expire at {expires_at.isoformat()}, which has passed")
    computed = session.get(HealthScoreRow, account_id)
    if computed is None:
        raise CSError(f"account {account_id} has no computed score yet: run `cs score` first")
    cards = scorecards if scorecards is not None else builtin_scorecards()
    card = cards.get(computed.scorecard_id)
    if card is None:
        raise CSError(
            f"account {account_id} is scored on unknown scorecard {computed.scorecard_id!r}"
        )
    previous = _active(session, account_id, moment)
    if previous is not None:
        previous.cleared_at, previous.cleared_by = moment, author.strip()
    override = HealthOverride(
        account_id=account_id,
        scorecard_id=computed.scorecard_id,
        computed_score=computed.score,
        score=float(score),
        tier=card.tier_for(score),
        reason=reason.strip(),
        author=author.strip(),
        created_at=moment,
        expires_at=expires_at,
    )
    session.add(override)
    session.flush()
    append_event(
        session,
        HEALTH_OVERRIDDEN,
        {
            "account_id": account_id,
            "override_id": override.id,
            "computed": {"score": computed.score, "tier": computed.tier},
            "override": {"score": override.score, "tier": override.tier},
            "previous": (
                {"score": previous.score, "tier": previous.tier}
                if previous is not None
                else {"score": computed.score, "tier": computed.tier}
            ),
            "author": override.author,
            "reason": override.reason,
            "expires_at": None if expires_at is None else expires_at.isoformat(),
        },
        account_id=account_id,
        now=moment,
    )
    return override


def clear_override(
    session: Session, account_id: int, *, author: str, now: datetime | None = None
) -> HealthOverride:
    """End the override in force; the computed score counts again."""
    moment = utc_moment(now, "now")
    if not author.strip():
        raise CSError("clearing an override needs an author: who decided it")
    active = _active(session, account_id, moment)
    if active is None:
        raise CSError(f"account {account_id} has no override in force")
    active.cleared_at, active.cleared_by = moment, author.strip()
    computed = session.get(HealthScoreRow, account_id)
    append_event(
        session,
        HEALTH_OVERRIDE_CLEARED,
        {
            "account_id": account_id,
            "override_id": active.id,
            "author": active.cleared_by,
            "override": {"score": active.score, "tier": active.tier},
            "computed": {
                "score": None if computed is None else computed.score,
                "tier": None if computed is None else computed.tier,
            },
        },
        account_id=account_id,
        now=moment,
    )
    return active


def effective_health(
    session: Session, account_id: int, *, now: datetime | None = None
) -> EffectiveHealth:
    """The account's health as it counts now: the override in force, else the computed score."""
    moment = utc_moment(now, "now")
    computed = session.get(HealthScoreRow, account_id)
    return EffectiveHealth(
        computed_score=None if computed is None else computed.score,
        computed_tier=None if computed is None else computed.tier,
        override=_active(session, account_id, moment),
    )


def override_rates(session: Session, *, now: datetime | None = None) -> list[OverrideRate]:
    """Per scorecard, the share of its accounts whose health is overridden now."""
    moment = utc_moment(now, "now")
    scored = dict(
        session.execute(
            select(HealthScoreRow.scorecard_id, func.count()).group_by(HealthScoreRow.scorecard_id)
        ).all()
    )
    overridden = dict(
        session.execute(
            select(HealthScoreRow.scorecard_id, func.count(HealthOverride.account_id.distinct()))
            .join(HealthOverride, HealthOverride.account_id == HealthScoreRow.account_id)
            .where(override_in_force(moment))
            .group_by(HealthScoreRow.scorecard_id)
        ).all()
    )
    return [
        OverrideRate(scorecard_id=card, accounts=count, overridden=overridden.get(card, 0))
        for card, count in sorted(scored.items())
    ]
