"""Fixtures for cs-core's tests: a churn history whose outcomes a test chooses."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from cs_core import (
    AccountRecord,
    AccountRef,
    ContractRecord,
    DailyUsage,
    Record,
    Store,
    write_daily_usage,
)

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
