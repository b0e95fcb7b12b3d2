"""The book of business: which accounts a report covers, their contracts, and whether each renewed.

A contract renewed when its source marks it ``renewed``, or when the same account has another
contract starting within the grace period around its end (``renewals.grace_days`` in the
policies). It renewed on time when that next contract starts no later than the day it ends.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from cs_core._enums import ContractStatus, Segment
from cs_core._tables import Account, Contract

__all__ = ["ContractTerm", "RenewalOutcome", "accounts_of", "contract_terms", "renewal_outcome"]


def accounts_of(segment: Segment | str | None = None, owner: str | None = None) -> Select[int]:
    """SQL: the ids of the accounts of ``segment`` and ``owner`` (``None``: any)."""
    query = select(Account.id)
    if segment is not None:
        query = query.where(Account.segment == Segment(segment))
    if owner is not None:
        query = query.where(Account.owner == owner)
    return query


@dataclass(frozen=True, slots=True)
class ContractTerm:
    """The part of a contract that revenue and renewals are computed from."""

    contract_id: int
    account_id: int
    start: date
    end: date
    arr: Decimal
    status: ContractStatus

    def active_on(self, day: date) -> bool:
        return self.start <= day < self.end


@dataclass(frozen=True, slots=True)
class RenewalOutcome:
    """How a contract's end turned out."""

    renewed: bool
    on_time: bool | None
    """``None`` when renewed by the source's word with no next contract to date it."""
    next_arr: Decimal | None


def contract_terms(
    session: Session, accounts: Select[int] | None = None
) -> dict[int, list[ContractTerm]]:
    """Per account (of those ``accounts`` selects; default: all), its contracts but drafts."""
    query = select(
        Contract.id, Contract.account_id, Contract.start_date, Contract.end_date, Contract.arr,
        Contract.status,
    ).where(Contract.status != ContractStatus.DRAFT)  # fmt: skip
    if accounts is not None:
        query = query.where(Contract.account_id.in_(accounts.scalar_subquery()))
    terms: dict[int, list[ContractTerm]] = defaultdict(list)
    for contract_id, account_id, start, end, arr, status in session.execute(
        query.order_by(Contract.account_id, Contract.start_date, Contract.id)
    ):
        if account_id is not None:
            terms[account_id].append(ContractTerm(contract_id, account_id, start, end, arr, status))
    return dict(terms)


def renewal_outcome(
    term: ContractTerm, account_terms: Iterable[ContractTerm], grace: timedelta
) -> RenewalOutcome:
    """How ``term`` ended, given every contract of its account."""
    following = [
        other
        for other in account_terms
        if other.contract_id != term.contract_id
        and term.end - grace <= other.start <= term.end + grace
    ]
    if following:
        successor = min(following, key=lambda other: other.start)
        return RenewalOutcome(True, successor.start <= term.end, successor.arr)
    if term.status is ContractStatus.RENEWED:
        return RenewalOutcome(True, None, None)
    return RenewalOutcome(False, None, None)
