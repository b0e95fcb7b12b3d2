"""Support SLAs: breaches per the policies, escalations recorded once, events announced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from cs_core import (
    TICKET_ESCALATED,
    AccountRecord,
    OutboxEvent,
    Store,
    TicketEscalation,
    TicketPriority,
    TicketRecord,
    check_slas,
    evaluate_sla,
    load_policies,
    read_events,
)

OPENED = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def sla(priority: str, responded: float | None, solved: float | None, now: float):  # type: ignore[no-untyped-def]
    """A ticket opened at OPENED, answered and solved so many hours later, seen ``now`` hours on."""
    return evaluate_sla(
        1,
        None,
        TicketPriority(priority),
        OPENED,
        None if responded is None else OPENED + responded * HOUR,
        None if solved is None else OPENED + solved * HOUR,
        load_policies().support,
        OPENED + now * HOUR,
    )


def test_a_p1_answered_and_solved_in_time_breaches_nothing() -> None:
    found = sla("p1", 0.5, 3.9, now=100)
    assert (found.response_breached, found.resolution_breached, found.level) == (False, False, 1)
    assert found.response_due == OPENED + HOUR
    assert found.resolution_due == OPENED + 4 * HOUR


def test_the_edge_of_a_target_is_in_time() -> None:
    assert not sla("p2", 4, 24, now=100).response_breached
    assert not sla("p2", 4, 24, now=100).resolution_breached
    assert sla("p2", 4.01, 24.01, now=100).resolution_breached


def test_missing_targets_escalate_to_the_csm_then_engineering_then_the_vp() -> None:
    found = sla("p1", None, None, now=9)
    assert (found.response_breached, found.resolution_breached) == (True, True)
    assert [(move.level, move.level_name, move.reason, move.at) for move in found.escalations] == [
        (2, "csm", "response_breach", OPENED + HOUR),
        (3, "engineering", "resolution_breach", OPENED + 4 * HOUR),
        (4, "vp_customer_success", "executive", OPENED + 8 * HOUR),
    ]
    assert found.level == 4


def test_only_what_happened_by_the_as_of_time_counts() -> None:
    # Answered after 2 hours: seen at 1.5 hours, nothing is late yet; at 3 hours, the reply was.
    assert not sla("p1", 2, None, now=0.5).response_breached
    assert sla("p1", 2, None, now=1.5).response_breached
    assert sla("p1", 2, None, now=3).response_breached
    assert not sla("p1", 2, None, now=3).resolution_breached


def test_low_priorities_never_reach_the_executive() -> None:
    found = sla("p3", None, None, now=24 * 30)
    assert [move.level_name for move in found.escalations] == ["csm", "engineering"]


def _tickets(store: Store, now: datetime) -> None:
    store.write(
        [
            AccountRecord(source="crm", external_id="A", name="A", segment="smb",
                          lifecycle_stage="success"),
            TicketRecord(source="desk", external_id="late", account_external_id="A",
                         account_source="crm", priority="p2", status="open",
                         opened_at=now - 30 * HOUR),
            TicketRecord(source="desk", external_id="fine", account_external_id="A",
                         account_source="crm", priority="p2", status="solved",
                         opened_at=now - 30 * HOUR, first_response_at=now - 29 * HOUR,
                         solved_at=now - 20 * HOUR),
            TicketRecord(source="desk", external_id="old", account_external_id="A",
                         account_source="crm", priority="p4", status="solved",
                         opened_at=now - 200 * 24 * HOUR, first_response_at=now - 100 * 24 * HOUR,
                         solved_at=now - 100 * 24 * HOUR),
        ]
    )  # fmt: skip


def test_a_check_records_each_escalation_once_with_its_event(store: Store) -> None:
    now = datetime.now(UTC)
    _tickets(store, now)
    report = check_slas(store, as_of=now)
    # The old ticket is settled: only recent and unsolved tickets are checked.
    assert report.tickets == {TicketPriority.P2: 2}
    assert report.response_breaches == {TicketPriority.P2: 1}
    assert report.resolution_breaches == {TicketPriority.P2: 1}
    assert report.escalations_recorded == 2
    with store.transaction() as session:
        moves = session.execute(
            select(TicketEscalation.level_name, TicketEscalation.reason).order_by(
                TicketEscalation.level
            )
        ).all()
        events = read_events(session, after=0)
    assert moves == [("csm", "response_breach"), ("engineering", "resolution_breach")]
    escalated = [event for event in events if event.type == TICKET_ESCALATED]
    assert [event.payload["level_name"] for event in escalated] == ["csm", "engineering"]
    assert escalated[0].payload["priority"] == "p2"

    again = check_slas(store, as_of=now + HOUR)
    assert again.escalations_recorded == 0
    with store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(TicketEscalation)) == 2
        assert session.scalar(select(func.count()).where(OutboxEvent.type == TICKET_ESCALATED)) == 2

    # Still open after twice its resolution target: a P2 goes to the VP.
    later = check_slas(store, as_of=now + 19 * HOUR)
    assert later.escalations_recorded == 1


def test_a_check_needs_a_timezone(store: Store) -> None:
    with pytest.raises(ValueError, match="as_of 2026-11-02T09:00:00 has no timezone"):
        check_slas(store, as_of=OPENED.replace(tzinfo=None))
