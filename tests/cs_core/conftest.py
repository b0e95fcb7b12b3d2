"""Fixtures for cs-core's tests: a churn history whose outcomes a test chooses, and stored
health written directly, for tests of what reads it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from cs_core import (
    AccountRecord,
    AccountRef,
    ContractRecord,
    DailyUsage,
    HealthHistory,
    HealthScoreRow,
    Record,
    ScoringRun,
    Store,
    account_ids,
    write_daily_usage,
)
from cs_core._cli import main

TODAY = datetime.now(UTC).date()
OBSERVED = TODAY - timedelta(days=120)
"""The observation day of the churn history: its horizons have long passed."""

ChurnHistory = Callable[[Sequence[float], Sequence[bool]], None]


@pytest.fixture
def churn_history(store: Store) -> ChurnHistory:
    """Fill ``store`` with accounts of 20 seats, ``adoption`` of them active each of the 30 days
    before :data:`OBSERVED`; those that ``churns`` marks see their contract expire, unrenewed,
    30 days after it."""

    def fill(adoption: Sequence[float], churns: Sequence[bool]) -> None:
        records: list[Record] = []
        usage: list[DailyUsage] = []
        for index, (share, churned) in enumerate(zip(adoption, churns, strict=True)):
            external_id = f"A{index}"
            end = OBSERVED + timedelta(days=30) if churned else TODAY + timedelta(days=200)
            records += [
                AccountRecord(source="crm", external_id=external_id, name=external_id,
                              segment="smb", lifecycle_stage="success", licensed_seats=20),
                ContractRecord(source="crm", external_id=f"K{index}",
                               account_external_id=external_id,
                               start_date=end - timedelta(days=365), end_date=end,
                               arr=Decimal(1000), status="expired" if churned else "active"),
            ]  # fmt: skip
            usage += [
                DailyUsage(
                    account=AccountRef(source="crm", external_id=external_id),
                    day=OBSERVED - timedelta(days=ago),
                    active_users=round(20 * share),
                    events=100,
                )
                for ago in range(1, 31)
            ]
        store.write(records)
        with store.transaction() as session:
            write_daily_usage(session, usage)

    return fill


def account_id(session: Session, external_id: str, source: str = "crm") -> int:
    """The store's id of the account ``source:external_id``."""
    ref = AccountRef(source=source, external_id=external_id)
    return account_ids(session, [ref])[ref]


def record_health(
    session: Session, account: int, as_of: datetime, tier: str, *, latest: bool = False
) -> None:
    """Append a health history row of ``tier`` at ``as_of`` (and make it the latest score)."""
    run = ScoringRun(kind="full", as_of=as_of, started_at=as_of, accounts=1, changed=1, events=0)
    session.add(run)
    session.flush()
    fields = {"account_id": account, "run_id": run.id, "as_of": as_of, "scorecard_id": "sop",
              "scorecard_version": 1, "scorecard_fingerprint": "f", "score": 50.0, "tier": tier,
              "measures": {}}  # fmt: skip
    session.add(HealthHistory(**fields, cause="customer"))
    if latest:
        session.merge(HealthScoreRow(**fields))


def run_cs(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``cs ARGS`` in-process as a user would; its exit status, output and errors."""
    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err
