"""The identity map: which account each source's identifier stands for."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ScalarSelect, select
from sqlalchemy.orm import Session

from cs_core._enums import ResolutionMethod
from cs_core._records import AccountRef
from cs_core._sql import chunks, keys_in
from cs_core._tables import Account, AccountIdentity

__all__ = ["Key", "account_id_of", "account_ids", "accounts_by_domain", "identities"]

Key = tuple[str, str]
"""``(source, external_id)``."""


def account_id_of(source: Any, external_id: Any) -> ScalarSelect[int]:
    """SQL for the account that the identity ``(source, external_id)`` (two columns) stands for."""
    return (
        select(AccountIdentity.account_id)
        .where(AccountIdentity.source == source, AccountIdentity.external_id == external_id)
        .scalar_subquery()
    )


def account_ids(session: Session, refs: Iterable[AccountRef]) -> dict[AccountRef, int]:
    """The store's account id for each of ``refs`` that is known; unknown ones are left out."""
    wanted = {(ref.source, ref.external_id): ref for ref in refs}
    return {wanted[key]: found[0] for key, found in identities(session, wanted).items()}


def identities(session: Session, keys: Iterable[Key]) -> dict[Key, tuple[int, ResolutionMethod]]:
    """Account id and resolution method of each known key, in one query."""
    found: dict[Key, tuple[int, ResolutionMethod]] = {}
    for chunk in chunks(list(set(keys))):
        rows = session.execute(
            select(
                AccountIdentity.source,
                AccountIdentity.external_id,
                AccountIdentity.account_id,
                AccountIdentity.method,
            ).where(keys_in(session, (AccountIdentity.source, AccountIdentity.external_id), chunk))
        )
        found.update({(row.source, row.external_id): (row.account_id, row.method) for row in rows})
    return found


def accounts_by_domain(
    session: Session, domains: Iterable[str]
) -> dict[str, list[tuple[int, str]]]:
    """Per domain, the ``(account id, origin source)`` of every account with that primary domain."""
    found: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for chunk in chunks(list(set(domains))):
        rows = session.execute(
            select(Account.domain, Account.id, Account.source).where(Account.domain.in_(chunk))
        )
        for row in rows:
            found[row.domain].append((row.id, row.source))
    return found
