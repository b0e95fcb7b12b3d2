"""Marking accounts whose scoring inputs changed, for incremental scoring runs."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from cs_core._sql import bulk_upsert
from cs_core._tables import AccountToRescore
from cs_core._types import utc_moment

__all__ = ["mark_for_rescoring"]


def mark_for_rescoring(
    session: Session, account_ids: Iterable[int | None], *, now: datetime | None = None
) -> None:
    """Note that these accounts' inputs changed (in the caller's transaction)."""
    moment = utc_moment(now, "now")
    bulk_upsert(
        session,
        AccountToRescore.__table__,  # type: ignore[arg-type]
        ("account_id",),
        [
            {"account_id": account_id, "changed_at": moment}
            for account_id in set(account_ids)
            if account_id
        ],
    )
