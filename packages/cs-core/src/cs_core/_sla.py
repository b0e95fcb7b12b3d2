"""Support SLAs (SOP-002): each ticket's targets, its breaches, and its escalations.

A ticket's targets run from when it was opened: first response and resolution, per priority, as
the policies set them. A target is breached when the response or resolution came after it, or has
not come and the target has passed. Breaches move the ticket up the escalation path; each move is
recorded once, stamped with the moment of the breach that caused it, and announced as a
``ticket.escalated`` event, so checking twice records nothing new.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select, tuple_
from sqlalchemy.orm import Session

from cs_core._enums import TicketPriority
from cs_core._outbox import NewEvent, append_events
from cs_core._policies import Policies, SupportPolicy, load_policies
from cs_core._sql import chunks, dialect_insert
from cs_core._store import Store
from cs_core._tables import Ticket, TicketEscalation
from cs_core._types import utc_moment

__all__ = [
    "TICKET_ESCALATED",
    "EscalationMove",
    "SlaReport",
    "TicketSla",
    "check_slas",
    "evaluate_sla",
    "ticket_slas",
]

TICKET_ESCALATED = "ticket.escalated"

_RECENT = timedelta(days=90)
"""Solved tickets older than this are settled: checks look at recent and unsolved tickets."""


@dataclass(frozen=True, slots=True)
class EscalationMove:
    """One move up the escalation path."""

    level: int
    level_name: str
    reason: str
    """``response_breach``, ``resolution_breach`` or ``executive``."""
    at: datetime


@dataclass(frozen=True, slots=True)
class TicketSla:
    """A ticket measured against its SLA at an as-of time."""

    ticket_id: int
    account_id: int | None
    priority: TicketPriority
    response_due: datetime
    resolution_due: datetime
    response_breached: bool
    resolution_breached: bool
    escalations: tuple[EscalationMove, ...]

    @property
    def level(self) -> int:
        """The escalation level reached (1: the first level, where every ticket starts)."""
        return max((escalation.level for escalation in self.escalations), default=1)


def _missed(due: datetime, done: datetime | None, as_of: datetime) -> bool:
    if done is not None and done <= as_of:
        return done > due
    return as_of > due


def evaluate_sla(
    ticket_id: int,
    account_id: int | None,
    priority: TicketPriority,
    opened_at: datetime,
    first_response_at: datetime | None,
    solved_at: datetime | None,
    policy: SupportPolicy,
    as_of: datetime,
) -> TicketSla:
    """Where one ticket stands against ``policy`` at ``as_of``, from what happened by then."""
    target = policy.sla[priority]
    path = policy.escalation
    response_due = opened_at + target.first_response
    resolution_due = opened_at + target.resolution
    response_breached = _missed(response_due, first_response_at, as_of)
    resolution_breached = _missed(resolution_due, solved_at, as_of)
    escalations = []
    if response_breached:
        name = path.on_response_breach
        escalations.append(EscalationMove(path.level(name), name, "response_breach", response_due))
    if resolution_breached:
        name = path.on_resolution_breach
        escalations.append(
            EscalationMove(path.level(name), name, "resolution_breach", resolution_due)
        )
    executive_due = opened_at + target.resolution * path.executive_after
    if priority in path.executive_priorities and _missed(executive_due, solved_at, as_of):
        name = path.executive
        escalations.append(EscalationMove(path.level(name), name, "executive", executive_due))
    # A later breach that names a lower level than one already reached does not move the ticket.
    moves: list[EscalationMove] = []
    for escalation in sorted(escalations, key=lambda move: move.at):
        if escalation.level > max((move.level for move in moves), default=1):
            moves.append(escalation)
    return TicketSla(
        ticket_id=ticket_id,
        account_id=account_id,
        priority=priority,
        response_due=response_due,
        resolution_due=resolution_due,
        response_breached=response_breached,
        resolution_breached=resolution_breached,
        escalations=tuple(moves),
    )


def ticket_slas(
    session: Session, as_of: datetime, policy: SupportPolicy, *, recent: timedelta = _RECENT
) -> Iterator[TicketSla]:
    """Every ticket opened by ``as_of`` that is unsolved then, or was opened within ``recent``."""
    moment = utc_moment(as_of, "as_of")
    rows = session.execute(
        select(
            Ticket.id,
            Ticket.account_id,
            Ticket.priority,
            Ticket.opened_at,
            Ticket.first_response_at,
            Ticket.solved_at,
        )
        .where(
            Ticket.opened_at <= moment,
            or_(
                Ticket.opened_at > moment - recent,
                Ticket.solved_at.is_(None),
                Ticket.solved_at > moment,
            ),
        )
        .order_by(Ticket.id)
        .execution_options(yield_per=5000)
    )
    for ticket_id, account_id, priority, opened, responded, solved in rows:
        yield evaluate_sla(
            ticket_id, account_id, priority, opened, responded, solved, policy, moment
        )


@dataclass(frozen=True, slots=True)
class SlaReport:
    """What an SLA check found and recorded."""

    as_of: datetime
    tickets: Counter[TicketPriority] = field(default_factory=Counter)
    response_breaches: Counter[TicketPriority] = field(default_factory=Counter)
    resolution_breaches: Counter[TicketPriority] = field(default_factory=Counter)
    escalations_recorded: int = 0


def check_slas(
    store: Store, *, as_of: datetime | None = None, policies: Policies | None = None
) -> SlaReport:
    """Measure recent and unsolved tickets against their SLAs and record new escalations.

    One transaction records the escalations that are not yet stored and their events.
    """
    moment = utc_moment(as_of, "as_of")
    policy = (policies or load_policies()).support
    store.check_ready()
    tickets: Counter[TicketPriority] = Counter()
    response_breaches: Counter[TicketPriority] = Counter()
    resolution_breaches: Counter[TicketPriority] = Counter()
    with store.transaction() as session:
        found: list[tuple[TicketSla, EscalationMove]] = []
        for sla in ticket_slas(session, moment, policy):
            tickets[sla.priority] += 1
            response_breaches[sla.priority] += sla.response_breached
            resolution_breaches[sla.priority] += sla.resolution_breached
            found.extend((sla, escalation) for escalation in sla.escalations)
        recorded = _record(session, found, moment)
    return SlaReport(
        as_of=moment,
        tickets=tickets,
        response_breaches=response_breaches,
        resolution_breaches=resolution_breaches,
        escalations_recorded=recorded,
    )


def _record(session: Session, found: list[tuple[TicketSla, EscalationMove]], now: datetime) -> int:
    recorded = 0
    recorded_at = datetime.now(UTC)
    for page in chunks(found, 1000):
        keys = [(sla.ticket_id, escalation.level) for sla, escalation in page]
        stored = {
            (ticket_id, level)
            for ticket_id, level in session.execute(
                select(TicketEscalation.ticket_id, TicketEscalation.level).where(
                    tuple_(TicketEscalation.ticket_id, TicketEscalation.level).in_(keys)
                )
            )
        }
        new = [(sla, move) for sla, move in page if (sla.ticket_id, move.level) not in stored]
        if not new:
            continue
        rows = [
            {
                "ticket_id": sla.ticket_id,
                "level": move.level,
                "level_name": move.level_name,
                "account_id": sla.account_id,
                "reason": move.reason,
                "escalated_at": move.at,
                "recorded_at": recorded_at,
            }
            for sla, move in new
        ]
        insert = dialect_insert(session, TicketEscalation.__table__)  # type: ignore[arg-type]
        inserted = {
            (ticket_id, level)
            for ticket_id, level in session.execute(
                insert.on_conflict_do_nothing().returning(
                    TicketEscalation.ticket_id, TicketEscalation.level
                ),
                rows,
            )
        }
        append_events(
            session,
            [
                NewEvent(
                    TICKET_ESCALATED,
                    {
                        "ticket_id": sla.ticket_id,
                        "account_id": sla.account_id,
                        "priority": sla.priority.value,
                        "level": move.level,
                        "level_name": move.level_name,
                        "reason": move.reason,
                        "escalated_at": move.at.isoformat(),
                        "as_of": now.isoformat(),
                    },
                    sla.account_id,
                )
                for sla, move in new
                if (sla.ticket_id, move.level) in inserted
            ],
        )
        recorded += len(inserted)
    return recorded
