"""A seeded, reproducible customer base for the demo, the tests and the benchmarks.

Every account is generated from its own random stream, derived from the seed and its index, so
that any slice of the base can be produced alone: the generator streams chunks of accounts and
never holds the whole base, whatever its size. The same seed and ``as_of`` day always give the
same records.

Accounts come in families of ten: the first of each family is an enterprise parent and the next
one its subsidiary, so hierarchies exist at every size. Each account follows a trajectory
(thriving, steady, declining, churning) that shapes its usage, tickets, surveys and contacts.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import TypeVar

from cs_core._demo_vocabulary import (
    ARR_PER_SEAT,
    CONTACTS,
    CSMS,
    FAMILY_SIZE,
    FEATURES,
    FIRST_RESPONSE_HOURS,
    NAME_FIRST,
    NAME_SECOND,
    ONBOARDING_DAYS,
    PEOPLE_FIRST,
    PEOPLE_LAST,
    PRIORITIES,
    RECENT_CUSTOMER_DAYS,
    SEATS,
    SEGMENT_MIX,
    TICKETS_PER_MONTH,
    TITLES,
)
from cs_core._enums import (
    ContactStatus,
    ContractStatus,
    LifecycleStage,
    OnboardingMilestone,
    OpportunityOutcome,
    OpportunityType,
    RenewalTrack,
    Segment,
    SurveyKind,
    TicketChannel,
    TicketSatisfaction,
    TicketStatus,
)
from cs_core._records import (
    AccountRecord,
    AccountRef,
    ContactRecord,
    ContractRecord,
    MilestoneRecord,
    OpportunityRecord,
    ProductLine,
    Record,
    SurveyResponseRecord,
    TicketRecord,
)
from cs_core._usage import DailyUsage, FeatureUsage

__all__ = ["DEMO_SOURCE", "DemoChunk", "DemoOptions", "Trajectory", "generate_demo"]

_T = TypeVar("_T")

DEMO_SOURCE = "demo"


class Trajectory(StrEnum):
    """How an account's health moves over the generated history."""

    THRIVING = "thriving"
    STEADY = "steady"
    DECLINING = "declining"
    CHURNING = "churning"


_TRAJECTORY_MIX = (
    (Trajectory.THRIVING, 0.30),
    (Trajectory.STEADY, 0.40),
    (Trajectory.DECLINING, 0.20),
    (Trajectory.CHURNING, 0.10),
)
# Share of licensed seats active on a weekday at the start and at the end of the history.
_ADOPTION = {
    Trajectory.THRIVING: ((0.55, 0.75), (0.80, 0.95)),
    Trajectory.STEADY: ((0.50, 0.70), (0.50, 0.70)),
    Trajectory.DECLINING: ((0.55, 0.75), (0.25, 0.45)),
    Trajectory.CHURNING: ((0.40, 0.60), (0.00, 0.12)),
}


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """What to generate: how many accounts, from which seed, as of which day."""

    accounts: int = 200
    seed: int = 42
    as_of: date = field(default_factory=lambda: datetime.now(UTC).date())
    history_days: int = 120
    """Days of daily usage, tickets and surveys before ``as_of`` (at least 90)."""
    chunk_size: int = 200
    """Accounts per generated chunk: what the generator holds in memory at once."""

    def __post_init__(self) -> None:
        if self.accounts < 1:
            raise ValueError(f"accounts must be at least 1, not {self.accounts}")
        if self.history_days < 90:
            raise ValueError(f"history_days must be at least 90, not {self.history_days}")
        if self.chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, not {self.chunk_size}")


@dataclass(slots=True)
class DemoChunk:
    """The records of a run of consecutive accounts, ready for the store's bulk writes."""

    records: list[Record] = field(default_factory=list)
    usage: list[DailyUsage] = field(default_factory=list)
    trajectories: dict[str, Trajectory] = field(default_factory=dict)
    """Each account's trajectory by external id: the truth a health score should recover."""


def generate_demo(options: DemoOptions, *, start: int = 0) -> Iterator[DemoChunk]:
    """Yield the customer base chunk by chunk, parents always before their subsidiaries.

    ``start`` skips the accounts before it: each account is drawn alone, so a slice is the same
    as in the whole base (a sync resumes that way).
    """
    for first in range(start, options.accounts, options.chunk_size):
        chunk = DemoChunk()
        for index in range(first, min(first + options.chunk_size, options.accounts)):
            _Account(options, index).emit(chunk)
        yield chunk


def _pick(rng: random.Random, weighted: tuple[tuple[_T, float], ...]) -> _T:
    return rng.choices([item for item, _ in weighted], [weight for _, weight in weighted])[0]


def _external_id(index: int) -> str:
    return f"acct-{index:07d}"


class _Account:
    """One account and everything about it, drawn from a random stream of its own."""

    def __init__(self, options: DemoOptions, index: int) -> None:
        self.options = options
        self.index = index
        self.rng = random.Random(f"cs-demo:{options.seed}:{index}")
        rng = self.rng
        self.external_id = _external_id(index)
        position = index % FAMILY_SIZE
        self.parent = _external_id(index - 1) if position == 1 else None
        if position == 0:
            self.segment = Segment.ENTERPRISE
        elif position == 1:
            self.segment = rng.choice((Segment.ENTERPRISE, Segment.MID_MARKET))
        else:
            self.segment = _pick(rng, SEGMENT_MIX)
        self.trajectory = _pick(rng, _TRAJECTORY_MIX)
        name = f"{rng.choice(NAME_FIRST)} {rng.choice(NAME_SECOND)}"
        self.name = f"{name} {index}"
        self.domain = f"{name.lower().replace(' ', '-')}-{index}.example.com"
        self.seats = rng.randint(*SEATS[self.segment])
        self.arr = Decimal(self.seats * rng.randint(*ARR_PER_SEAT[self.segment]))
        term_years = rng.choice((1, 1, 2, 3)) if self.segment is Segment.ENTERPRISE else 1
        as_of = options.as_of
        # Renewals spread over the coming year; tenure from a few days to four years. Half the
        # churning accounts have already gone: their contract expired, unrenewed, lately.
        self.churned = self.trajectory is Trajectory.CHURNING and rng.random() < 0.5
        self.contract_end = as_of + timedelta(
            days=-rng.randint(5, 80) if self.churned else rng.randint(1, 365)
        )
        self.contract_start = self.contract_end - timedelta(days=365 * term_years)
        self.customer_since = min(self.contract_start, as_of - timedelta(days=rng.randint(3, 1460)))
        self.start_adoption = rng.uniform(*_ADOPTION[self.trajectory][0])
        self.end_adoption = rng.uniform(*_ADOPTION[self.trajectory][1])
        self.features = rng.sample(FEATURES, k=self._feature_count())

    def _feature_count(self) -> int:
        if self.trajectory is Trajectory.THRIVING:
            return self.rng.randint(5, len(FEATURES))
        if self.trajectory is Trajectory.STEADY:
            return self.rng.randint(3, 6)
        return self.rng.randint(1, 4)

    @property
    def ref(self) -> AccountRef:
        return AccountRef(source=DEMO_SOURCE, external_id=self.external_id)

    def emit(self, chunk: DemoChunk) -> None:
        chunk.trajectories[self.external_id] = self.trajectory
        chunk.records.append(self.account())
        chunk.records.extend(self.contacts())
        chunk.records.append(self.contract())
        chunk.records.extend(self.opportunities())
        chunk.records.extend(self.tickets())
        chunk.records.extend(self.surveys())
        chunk.records.extend(self.milestones())
        chunk.usage.extend(self.usage())

    def lifecycle_stage(self) -> LifecycleStage:
        tenure = (self.options.as_of - self.customer_since).days
        if self.churned:
            return LifecycleStage.CHURNED
        if tenure < ONBOARDING_DAYS[self.segment]:
            return LifecycleStage.ONBOARDING
        if tenure < 180:
            return LifecycleStage.ADOPTION
        if (self.contract_end - self.options.as_of).days <= 90:
            return LifecycleStage.RENEWAL
        if self.trajectory is Trajectory.THRIVING:
            return LifecycleStage.EXPANSION
        return LifecycleStage.SUCCESS

    def account(self) -> AccountRecord:
        csm = self.rng.choice(CSMS[self.segment])
        return AccountRecord(
            source=DEMO_SOURCE,
            external_id=self.external_id,
            name=self.name,
            domain=self.domain,
            segment=self.segment,
            owner=f"{csm}@cs.example.com",
            arr=self.arr,
            currency="USD",
            lifecycle_stage=self.lifecycle_stage(),
            contract_start=self.contract_start,
            contract_end=self.contract_end,
            renewal_date=self.contract_end,
            licensed_seats=self.seats,
            usage_limits={"api_calls_per_day": self.seats * 200, "workflows": self.seats // 2 + 5},
            parent_external_id=self.parent,
        )

    def contacts(self) -> Iterator[ContactRecord]:
        rng = self.rng
        count = rng.randint(*CONTACTS[self.segment])
        champion_left = self.trajectory in (Trajectory.DECLINING, Trajectory.CHURNING) and (
            rng.random() < 0.4
        )
        for number in range(count):
            first, last = rng.choice(PEOPLE_FIRST), rng.choice(PEOPLE_LAST)
            is_champion = number == 0
            quiet_days = (
                rng.randint(1, 20)
                if self.trajectory is Trajectory.THRIVING
                else (rng.randint(5, 120))
            )
            yield ContactRecord(
                source=DEMO_SOURCE,
                external_id=f"{self.external_id}-c{number}",
                account_external_id=self.external_id,
                email=f"{first}.{last}{number}@{self.domain}",
                name=f"{first.title()} {last.title()}",
                title="VP Operations" if number == 1 else rng.choice(TITLES),
                is_champion=is_champion,
                is_executive_sponsor=number == 1 and self.segment is not Segment.PLG,
                is_admin=number == 2 or count == 1,
                status=ContactStatus.LEFT_COMPANY
                if is_champion and champion_left
                else ContactStatus.ACTIVE,
                last_engaged_at=self._at(self.options.as_of - timedelta(days=quiet_days)),
            )

    def contract(self) -> ContractRecord:
        rng = self.rng
        if self.trajectory is Trajectory.CHURNING:
            track = RenewalTrack.AT_RISK
        elif self.segment is Segment.ENTERPRISE:
            track = rng.choice((RenewalTrack.COMPLEX, RenewalTrack.STANDARD))
        elif self.segment in (Segment.SMB, Segment.PLG):
            track = RenewalTrack.AUTO
        else:
            track = RenewalTrack.STANDARD
        products = [ProductLine(name="Core Platform", seats=self.seats)]
        products += [
            ProductLine(name=addon)
            for addon in ("Analytics", "Automation", "SSO")
            if rng.random() < 0.35
        ]
        return ContractRecord(
            source=DEMO_SOURCE,
            external_id=f"{self.external_id}-k1",
            account_external_id=self.external_id,
            start_date=self.contract_start,
            end_date=self.contract_end,
            arr=self.arr,
            status=ContractStatus.EXPIRED if self.churned else ContractStatus.ACTIVE,
            auto_renew=track is RenewalTrack.AUTO,
            renewal_track=track,
            products=tuple(products),
            seats=self.seats,
        )

    def opportunities(self) -> Iterator[OpportunityRecord]:
        rng = self.rng
        yield OpportunityRecord(
            source=DEMO_SOURCE,
            external_id=f"{self.external_id}-o-new",
            account_external_id=self.external_id,
            name=f"{self.name}: new business",
            type=OpportunityType.NEW,
            amount=self.arr,
            stage="Closed Won",
            close_date=self.customer_since,
            outcome=OpportunityOutcome.WON,
        )
        yield OpportunityRecord(
            source=DEMO_SOURCE,
            external_id=f"{self.external_id}-o-renewal",
            account_external_id=self.external_id,
            name=f"{self.name}: renewal {self.contract_end.year}",
            type=OpportunityType.RENEWAL,
            amount=self.arr,
            stage=self._renewal_stage(),
            close_date=self.contract_end,
            outcome=OpportunityOutcome.LOST if self.churned else OpportunityOutcome.OPEN,
        )
        if self.trajectory is Trajectory.THRIVING and rng.random() < 0.6:
            won = rng.random() < 0.5
            yield OpportunityRecord(
                source=DEMO_SOURCE,
                external_id=f"{self.external_id}-o-expansion",
                account_external_id=self.external_id,
                name=f"{self.name}: seat expansion",
                type=OpportunityType.EXPANSION,
                amount=(self.arr * Decimal(rng.randint(10, 40)) / 100).quantize(Decimal("0.01")),
                stage="Closed Won" if won else "Discovery",
                close_date=self.options.as_of
                + timedelta(days=-rng.randint(10, 200) if won else rng.randint(15, 120)),
                outcome=OpportunityOutcome.WON if won else OpportunityOutcome.OPEN,
            )

    def _renewal_stage(self) -> str:
        if self.churned:
            return "Closed Lost"
        return "Forecast" if (self.contract_end - self.options.as_of).days > 90 else "Proposal"

    def tickets(self) -> Iterator[TicketRecord]:
        rng = self.rng
        days = self.options.history_days
        rate = TICKETS_PER_MONTH[self.segment] * days / 30
        if self.trajectory in (Trajectory.DECLINING, Trajectory.CHURNING):
            rate *= 1.8
        count = max(0, round(rng.gauss(rate, rate / 3)))
        for number in range(count):
            priority = _pick(rng, PRIORITIES)
            # Troubled accounts' tickets cluster in the recent weeks: a spike, as seed 003 says.
            recent = self.trajectory in (Trajectory.DECLINING, Trajectory.CHURNING)
            age = rng.uniform(0, days / 3 if recent and rng.random() < 0.6 else days)
            opened = self._at(self.options.as_of) - timedelta(days=age)
            target = FIRST_RESPONSE_HOURS[priority]
            first_response = opened + timedelta(hours=rng.uniform(0.1, 1.6) * target)
            solved_after = timedelta(hours=rng.uniform(2, 8) * target)
            solved = opened + solved_after
            is_solved = solved < self._at(self.options.as_of) and rng.random() < 0.9
            satisfaction = None
            if is_solved and rng.random() < 0.5:
                good = 0.9 if self.trajectory is Trajectory.THRIVING else 0.6
                satisfaction = (
                    TicketSatisfaction.GOOD if rng.random() < good else TicketSatisfaction.BAD
                )
            yield TicketRecord(
                source=DEMO_SOURCE,
                external_id=f"{self.external_id}-t{number}",
                account_external_id=self.external_id,
                subject=rng.choice(
                    ("Login fails", "Report is slow", "Sync error", "How do I export?", "Bug")
                ),
                priority=priority,
                status=TicketStatus.SOLVED if is_solved else TicketStatus.OPEN,
                channel=rng.choice(list(TicketChannel)),
                opened_at=opened,
                first_response_at=first_response
                if first_response < self._at(self.options.as_of)
                else None,
                solved_at=solved if is_solved else None,
                satisfaction=satisfaction,
                replies=rng.choice((1, 1, 1, 2, 2, 3, 4)) if is_solved else None,
            )

    def surveys(self) -> Iterator[SurveyResponseRecord]:
        rng = self.rng
        nps_range = {
            Trajectory.THRIVING: (8, 10),
            Trajectory.STEADY: (6, 9),
            Trajectory.DECLINING: (3, 7),
            Trajectory.CHURNING: (0, 5),
        }[self.trajectory]
        for number in range(rng.randint(1, 3)):
            age = rng.randint(0, self.options.history_days - 1)
            yield SurveyResponseRecord(
                source=DEMO_SOURCE,
                external_id=f"{self.external_id}-nps{number}",
                account_external_id=self.external_id,
                survey=SurveyKind.NPS,
                score=rng.randint(*nps_range),
                comment=None,
                respondent_email=None,
                responded_at=self._at(self.options.as_of - timedelta(days=age)),
            )
        for number in range(rng.randint(0, 3)):
            age = rng.randint(0, self.options.history_days - 1)
            yield SurveyResponseRecord(
                source=DEMO_SOURCE,
                external_id=f"{self.external_id}-csat{number}",
                account_external_id=self.external_id,
                survey=SurveyKind.CSAT,
                score=max(1, min(5, nps_range[1] // 2 - rng.randint(0, 1))),
                responded_at=self._at(self.options.as_of - timedelta(days=age)),
            )

    def milestones(self) -> Iterator[MilestoneRecord]:
        """Kickoff and training of recent customers (the rest shows in usage and scores); a
        troubled account skips its training half the time, so its onboarding runs late."""
        as_of = self.options.as_of
        if (as_of - self.customer_since).days > RECENT_CUSTOMER_DAYS:
            return
        # A generator of its own, so that the rest of the account's data stays as it was.
        rng = random.Random(f"cs-demo:{self.options.seed}:{self.index}:milestones")
        troubled = self.trajectory in (Trajectory.DECLINING, Trajectory.CHURNING)
        onboarding = ONBOARDING_DAYS[self.segment]
        planned = {
            OnboardingMilestone.KICKOFF: rng.randint(0, 2),
            OnboardingMilestone.TRAINING: round(onboarding * rng.uniform(0.5, 0.95)),
        }
        history_start = as_of - timedelta(days=self.options.history_days)
        if self.customer_since < history_start:
            # The usage that would show the first workflow run is older than the history.
            planned[OnboardingMilestone.FIRST_VALUE] = round(onboarding * rng.uniform(0.2, 0.6))
        for milestone, day in planned.items():
            if milestone is OnboardingMilestone.TRAINING and troubled and rng.random() < 0.5:
                continue
            reached = self.customer_since + timedelta(days=day)
            if reached < as_of:
                yield MilestoneRecord(
                    source=DEMO_SOURCE,
                    external_id=f"{self.external_id}-m-{milestone.value}",
                    account_external_id=self.external_id,
                    milestone=milestone,
                    completed_at=self._at(reached),
                )

    def usage(self) -> Iterator[DailyUsage]:
        rng = self.rng
        days = self.options.history_days
        for offset in range(days, 0, -1):
            day = self.options.as_of - timedelta(days=offset)
            if day < self.customer_since:
                continue  # no usage before the account became a customer
            progress = (days - offset) / (days - 1)
            adoption = self.start_adoption + (self.end_adoption - self.start_adoption) * progress
            weekday = 1.0 if day.weekday() < 5 else 0.25
            expected = self.seats * adoption * weekday * rng.uniform(0.85, 1.15)
            active = min(self.seats, max(0, round(expected)))
            features: dict[str, FeatureUsage] = {}
            events = 0
            for feature in self.features if active else ():
                users = max(1, round(active * rng.uniform(0.2, 0.9)))
                count = users * rng.randint(1, 6)
                features[feature] = FeatureUsage(events=count, users=users)
                events += count
            yield DailyUsage(
                account=self.ref,
                day=day,
                active_users=active,
                events=events,
                features=features,
            )

    def _at(self, day: date) -> datetime:
        """An instant during the working hours of ``day``, UTC."""
        return datetime.combine(day, time(9, 0), tzinfo=UTC) + timedelta(
            minutes=self.rng.randint(0, 9 * 60)
        )
