"""A plugin that adds the metric `open_tickets`: every ticket not yet solved."""

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cs_core import (
    AccountRange,
    Direction,
    MetricDefinition,
    MetricValues,
    RegisterMetric,
    Ticket,
    hookimpl,
)

OPEN_TICKETS = MetricDefinition(
    name="open_tickets",
    description="Tickets opened and not solved as of the time of scoring.",
    unit="tickets",
    direction=Direction.LOWER_IS_BETTER,
)


def open_tickets(session: Session, accounts: AccountRange, as_of: datetime) -> MetricValues:
    unsolved = (Ticket.solved_at.is_(None)) | (Ticket.solved_at > as_of)
    rows = session.execute(
        select(Ticket.account_id, func.count())
        .where(accounts.covers(Ticket.account_id), Ticket.opened_at <= as_of, unsolved)
        .group_by(Ticket.account_id)
    )
    return {account_id: {"open_tickets": float(count)} for account_id, count in rows if account_id}


@hookimpl
def cs_register_metrics(register: RegisterMetric) -> None:
    register(OPEN_TICKETS, open_tickets)
