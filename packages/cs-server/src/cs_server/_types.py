"""The GraphQL object types of accounts and their 360° view, and of tasks, built from store rows.

Every field of an account that reads more than the account's own row goes through a DataLoader
of the request (``info.context.loaders``), so a page costs the same queries whatever its size.
"""

from __future__ import annotations

import base64
import binascii
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, cast

import strawberry
from strawberry.scalars import JSON

from cs_core import Account as AccountRow
from cs_core import Contact as ContactRow
from cs_core import Contract as ContractRow
from cs_core import (
    InvalidArgumentError,
    LifecycleStage,
    OnboardingMilestone,
    RenewalTrack,
    Segment,
    TaskPriority,
    TaskStatus,
    TaskType,
    TicketChannel,
    TicketPriority,
    TicketStatus,
)
from cs_core import Signal as SignalRow
from cs_core import Task as TaskRow
from cs_server._account_view import Lifecycle, Renewal, Ticket, UsageSummary
from cs_server._context import Info
from cs_server._health import Health

__all__ = ["Account", "AccountId", "Task", "TaskId", "decode_id", "encode_id"]

MAX_RENEWAL_DAYS = 3660
"""The farthest a renewal is looked for: ten years of contracts ahead."""
MAX_USAGE_DAYS = 365
"""The longest usage window: the daily rollups of a year."""

# cs-core's enums are the schema's: registering them keeps one list of each.
for _shown in (Segment, LifecycleStage, OnboardingMilestone, RenewalTrack, TaskPriority,
               TaskStatus, TaskType, TicketChannel, TicketPriority, TicketStatus):  # fmt: skip
    strawberry.enum(_shown)


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
    article = "an" if kind[0] in "AEIOU" else "a"
    raise InvalidArgumentError(f"{value!r} is not {article} {kind} id: pass one the API gave")


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


@strawberry.type(description="A piece of work for someone on an account, made by a playbook.")
class Task:
    id: strawberry.ID
    account_key: strawberry.Private[int]
    type: TaskType
    title: str
    owner_role: str = strawberry.field(
        description="The role that holds it (csm, cs_manager…): escalation moves it up."
    )
    owner: str | None = strawberry.field(description="The person who holds it, when one does.")
    priority: TaskPriority
    status: TaskStatus
    due_on: date
    snoozed_until: date | None
    escalation_level: int = strawberry.field(description="Times it was escalated (0: never).")
    playbook: str | None = strawberry.field(description="The playbook that made it.")
    created_at: datetime
    completed_at: datetime | None
    completed_by: str | None

    @classmethod
    def of(cls, row: TaskRow) -> Task:
        return cls(id=encode_id("Task", row.id), account_key=row.account_id, type=row.type,
                   title=row.title, owner_role=row.owner_role, owner=row.owner,
                   priority=row.priority, status=row.status, due_on=row.due_on,
                   snoozed_until=row.snoozed_until, escalation_level=row.escalation_level,
                   playbook=row.playbook, created_at=row.created_at,
                   completed_at=row.completed_at, completed_by=row.completed_by)  # fmt: skip

    @strawberry.field(description="The account it is about.")
    async def account(self, info: Info) -> Account | None:
        found = await info.context.loaders.accounts.load(self.account_key)
        return None if found is None else Account.of(*found)


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

    @strawberry.field(
        description="Its lifecycle stage, since when and why, and its onboarding milestones, "
        "as last evaluated; null until the first evaluation."
    )
    async def lifecycle(self, info: Info) -> Lifecycle | None:
        loaders = info.context.loaders
        return Lifecycle.of(await loaders.lifecycles.load(self.key), loaders.now.date())

    @strawberry.field(description="Its open and snoozed tasks, by due day.")
    async def tasks(self, info: Info) -> list[Task]:
        return [Task.of(row) for row in await info.context.loaders.open_tasks.load(self.key)]

    @strawberry.field(
        description="Its next renewal: the soonest contract ending from today to `withinDays` "
        "ahead that has not renewed; null when none does."
    )
    async def renewal(self, info: Info, within_days: int = 365) -> Renewal | None:
        if not 0 <= within_days <= MAX_RENEWAL_DAYS:
            raise InvalidArgumentError(
                f"withinDays is from 0 to {MAX_RENEWAL_DAYS}, not {within_days}"
            )
        found = await info.context.loaders.renewals.load((self.key, within_days))
        return None if found is None else Renewal.of(found)

    @strawberry.field(description="Its tickets not yet solved or closed, oldest first, with SLAs.")
    async def tickets(self, info: Info) -> list[Ticket]:
        return [Ticket.of(row) for row in await info.context.loaders.open_tickets.load(self.key)]

    @strawberry.field(description="Its product usage over the last `days` days, and the trend.")
    async def usage(self, info: Info, days: int = 30) -> UsageSummary:
        if not 1 <= days <= MAX_USAGE_DAYS:
            raise InvalidArgumentError(f"days is from 1 to {MAX_USAGE_DAYS}, not {days}")
        return UsageSummary.of(await info.context.loaders.usage.load((self.key, days)))


AccountId = Annotated[strawberry.ID, strawberry.argument(description="An Account's id.")]
TaskId = Annotated[strawberry.ID, strawberry.argument(description="A Task's id.")]
