"""The GraphQL object types: accounts and their 360° view, built from store rows."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, cast

import strawberry
from strawberry.scalars import JSON

from cs_core import (
    Account as AccountRow,
)
from cs_core import (
    Contact as ContactRow,
)
from cs_core import (
    Contract as ContractRow,
)
from cs_core import (
    HealthOverride,
    HealthScore,
    HealthScoreRow,
    InvalidArgumentError,
    LifecycleStage,
    Scorecard,
    Segment,
    score_account,
)
from cs_core import (
    Signal as SignalRow,
)
from cs_server._context import Info

__all__ = ["Account", "Health", "decode_id", "encode_id"]

# cs-core's enums are the schema's: registering them keeps one list of segments and stages.
strawberry.enum(Segment)
strawberry.enum(LifecycleStage)


def encode_id(kind: str, key: int) -> strawberry.ID:
    """An opaque global id: clients pass it back, never build it."""
    return strawberry.ID(base64.urlsafe_b64encode(f"{kind}:{key}".encode()).decode())


def decode_id(kind: str, value: str) -> int:
    """The key of a global id of ``kind``; anything else is named as the wrong id."""
    try:
        found, _, key = base64.urlsafe_b64decode(value.encode()).decode().partition(":")
        if found == kind:
            return int(key)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise InvalidArgumentError(f"{value!r} is not the id of a {kind}")


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
            self.rebuilt.append(score_account(self.card, values, as_of=self.as_of))
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


@strawberry.type(description="A predictive signal that is open on the account.")
class Signal:
    kind: str
    severity: str
    evidence: JSON
    first_seen_at: datetime
    last_seen_at: datetime

    @classmethod
    def of(cls, row: SignalRow) -> Signal:
        return cls(kind=row.kind, severity=row.severity, evidence=cast(JSON, row.evidence),
                   first_seen_at=row.first_seen_at, last_seen_at=row.last_seen_at)  # fmt: skip


@strawberry.type(description="A contract or subscription.")
class Contract:
    source: str
    external_id: str
    start_date: date
    end_date: date
    arr: Decimal
    currency: str
    status: str
    auto_renew: bool

    @classmethod
    def of(cls, row: ContractRow) -> Contract:
        return cls(source=row.source, external_id=row.external_id, start_date=row.start_date,
                   end_date=row.end_date, arr=row.arr, currency=row.currency,
                   status=str(row.status), auto_renew=row.auto_renew)  # fmt: skip


@strawberry.type(description="A person at the customer.")
class Contact:
    email: str
    name: str | None
    title: str | None
    is_champion: bool
    is_executive_sponsor: bool
    status: str

    @classmethod
    def of(cls, row: ContactRow) -> Contact:
        return cls(email=row.email, name=row.name, title=row.title, is_champion=row.is_champion,
                   is_executive_sponsor=row.is_executive_sponsor,
                   status=str(row.status))  # fmt: skip


@strawberry.type(description="A customer account: the 360° view.")
class Account:
    id: strawberry.ID
    key: strawberry.Private[int]
    source: str
    external_id: str
    name: str
    domain: str | None
    segment: Segment
    owner: str | None
    arr: Decimal | None
    currency: str
    lifecycle_stage: LifecycleStage = strawberry.field(
        description="As last evaluated from the store, else as its source gives it."
    )
    renewal_date: date | None

    @classmethod
    def of(cls, row: AccountRow, stage: LifecycleStage | None = None) -> Account:
        return cls(id=encode_id("Account", row.id), key=row.id, source=row.source,
                   external_id=row.external_id, name=row.name, domain=row.domain,
                   segment=row.segment, owner=row.owner, arr=row.arr, currency=row.currency,
                   lifecycle_stage=LifecycleStage(stage or row.lifecycle_stage),
                   renewal_date=row.renewal_date)  # fmt: skip

    @strawberry.field(description="Health now; null until the account is first scored.")
    async def health(self, info: Info) -> Health | None:
        rows = await info.context.loaders.health.load(self.key)
        if rows.computed is None:
            return None
        return Health.of(rows.computed, rows.override, info.context.scorecards)

    @strawberry.field(description="Open signals, oldest first.")
    async def signals(self, info: Info) -> list[Signal]:
        return [Signal.of(row) for row in await info.context.loaders.signals.load(self.key)]

    @strawberry.field(description="Contracts, newest first.")
    async def contracts(self, info: Info) -> list[Contract]:
        return [Contract.of(row) for row in await info.context.loaders.contracts.load(self.key)]

    @strawberry.field(description="Contacts, by email.")
    async def contacts(self, info: Info) -> list[Contact]:
        return [Contact.of(row) for row in await info.context.loaders.contacts.load(self.key)]


AccountId = Annotated[strawberry.ID, strawberry.argument(description="An Account's id.")]
