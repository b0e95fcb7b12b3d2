"""Bulk writes of source records, with identity resolution to accounts.

Each kind of record is written with a constant number of statements per batch, whatever its
size: a few ``SELECT … IN`` to resolve accounts, then one ``INSERT … ON CONFLICT`` keyed by
``(source, external_id)``. Writing the same records twice leaves the store as writing them once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, case, delete, exists, func, select, tuple_, update
from sqlalchemy.orm import Session

from cs_core._enums import ResolutionMethod
from cs_core._errors import FieldProblem, InvalidRecordError
from cs_core._identity import Key, account_id_of, accounts_by_domain, identities
from cs_core._outbox import NewEvent, append_events
from cs_core._records import (
    AccountOwnedRecord,
    AccountRecord,
    ContactRecord,
    ContractRecord,
    MilestoneRecord,
    OpportunityRecord,
    Record,
    SurveyResponseRecord,
    TicketRecord,
    UsageEventRecord,
)
from cs_core._rescore import mark_for_rescoring
from cs_core._sql import bulk_upsert, chunks, keys_in
from cs_core._tables import (
    Account,
    AccountIdentity,
    Base,
    Contact,
    Contract,
    Milestone,
    Opportunity,
    SurveyResponse,
    Ticket,
    UsageEvent,
)
from cs_core._types import utc_moment
from cs_core._usage import refresh_usage_rollups

__all__ = [
    "ACCOUNT_DELETED",
    "CONTACT_ROLE_CHANGED",
    "WriteResult",
    "delete_records",
    "resolve_pending_accounts",
    "write_records",
]

ACCOUNT_DELETED = "account.deleted"
"""The event an account's deletion makes (its last source deleted it)."""

CONTACT_ROLE_CHANGED = "contact.role_changed"
"""The event a contact's change of title, role (champion, sponsor, admin) or status makes."""

# Accounts first, so that records of the same batch can resolve to them.
_ORDER: tuple[type[Record], ...] = (
    AccountRecord,
    ContactRecord,
    ContractRecord,
    OpportunityRecord,
    TicketRecord,
    SurveyResponseRecord,
    MilestoneRecord,
    UsageEventRecord,
)
_OWNED_TABLES: dict[type[AccountOwnedRecord], type[Base]] = {
    ContactRecord: Contact,
    ContractRecord: Contract,
    OpportunityRecord: Opportunity,
    TicketRecord: Ticket,
    SurveyResponseRecord: SurveyResponse,
    MilestoneRecord: Milestone,
    UsageEventRecord: UsageEvent,
}
# Columns computed by the store, never taken from a record.
_OWNED_FIELDS_EXCLUDED = {"account_external_id", "account_source", "source", "external_id"}


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a call to :func:`write_records` did."""

    written: Mapping[str, int] = field(default_factory=dict)
    """Records inserted or updated, by kind (duplicate usage events are not counted)."""
    accounts_created: int = 0
    """Accounts that did not exist before (a record merged into a known account is not one)."""
    unresolved: int = 0
    """Records stored without an account yet: their account has not been seen so far."""
    resolved_pending: int = 0
    """Records stored earlier without an account that the new accounts of this call claimed."""


def write_records(
    session: Session, records: Iterable[Record], *, now: datetime | None = None
) -> WriteResult:
    """Upsert ``records`` in the session's transaction and resolve them to accounts.

    Records stored earlier without an account are tied to the accounts this call adds (see
    :func:`resolve_pending_accounts`).

    Records of any kinds may be mixed; the last of two records with the same kind and
    ``(source, external_id)`` wins. Raises :class:`InvalidRecordError` naming the record and field
    when a record cannot be stored (an unknown ``same_as`` account); the caller's transaction is
    then to be rolled back, which :meth:`Store.transaction` does.
    """
    moment = utc_moment(now, "now")
    by_kind: dict[type[Record], dict[Key, Record]] = defaultdict(dict)
    for record in records:
        if type(record) not in _ORDER:
            raise TypeError(f"cannot store {type(record).__name__}: not a cs-core record type")
        by_kind[type(record)][(record.source, record.external_id)] = record

    written: dict[str, int] = {}
    created = unresolved = 0
    identities_added = False
    touched: set[int] = set()
    for kind in _ORDER:
        records_of_kind = list(by_kind.get(kind, {}).values())
        for chunk in chunks(records_of_kind):
            if kind is AccountRecord:
                new, added = _write_accounts(session, chunk, moment, touched)  # type: ignore[arg-type]
                created += new
                identities_added |= added
                count = len(chunk)
            else:
                count, pending = _write_owned(session, chunk, moment, touched)  # type: ignore[arg-type]
                unresolved += pending
            written[kind.kind] = written.get(kind.kind, 0) + count
    mark_for_rescoring(session, touched, now=moment)
    # Records that arrived before their account are claimed as soon as it exists.
    resolved = resolve_pending_accounts(session) if identities_added else 0
    return WriteResult(
        written=written,
        accounts_created=created,
        unresolved=unresolved,
        resolved_pending=resolved,
    )


def _write_accounts(
    session: Session, records: Sequence[AccountRecord], now: datetime, touched: set[int]
) -> tuple[int, bool]:
    """Upsert accounts; return how many were created and whether any identity was added.

    The accounts written, or merged into, are added to ``touched``.
    """
    keys = [(r.source, r.external_id) for r in records]
    known = identities(session, keys)
    links = identities(
        session,
        [(r.same_as.source, r.same_as.external_id) for r in records if r.same_as is not None],
    )
    candidates = accounts_by_domain(
        session, [r.domain for r in records if r.domain and (r.source, r.external_id) not in known]
    )

    problems: list[FieldProblem] = []
    owned: list[AccountRecord] = []  # records that create, or already own, their account
    merged: list[tuple[AccountRecord, int, ResolutionMethod, str]] = []
    for record in records:
        key = (record.source, record.external_id)
        if key in known:
            if known[key][1] is ResolutionMethod.ORIGIN:
                owned.append(record)
            continue
        if record.same_as is not None:
            target = (record.same_as.source, record.same_as.external_id)
            if target not in links:
                problems.append(
                    FieldProblem(
                        record.label,
                        "same_as",
                        f"names account {record.same_as}, which is not in the store; "
                        "write that account first",
                    )
                )
                continue
            merged.append(
                (record, links[target][0], ResolutionMethod.EXPLICIT, str(record.same_as))
            )
            continue
        others = [
            aid for aid, src in candidates.get(record.domain or "", []) if src != record.source
        ]
        if len(others) == 1:
            merged.append((record, others[0], ResolutionMethod.EMAIL_DOMAIN, record.domain or ""))
        else:
            owned.append(record)
    if problems:
        raise InvalidRecordError(problems)

    ids: dict[Key, int] = {}
    if owned:
        written = bulk_upsert(
            session,
            Account.__table__,  # type: ignore[arg-type]
            ("source", "external_id"),
            [_account_row(record, now) for record in owned],
            returning=("id", "source", "external_id"),
        )
        ids = {(row.source, row.external_id): row.id for row in written}

    new_identities = [
        {
            "source": r.source,
            "external_id": r.external_id,
            "account_id": ids[(r.source, r.external_id)],
            "method": ResolutionMethod.ORIGIN,
            "evidence": None,
            "resolved_at": now,
        }
        for r in owned
        if (r.source, r.external_id) not in known
    ] + [
        {
            "source": r.source,
            "external_id": r.external_id,
            "account_id": account_id,
            "method": method,
            "evidence": evidence,
            "resolved_at": now,
        }
        for r, account_id, method, evidence in merged
    ]
    bulk_upsert(
        session,
        AccountIdentity.__table__,  # type: ignore[arg-type]
        ("source", "external_id"),
        new_identities,
        update=None,
    )
    touched.update(ids.values())
    touched.update(account_id for _, account_id, _, _ in merged)
    _link_parents(session, list(ids.values()), keys)
    return sum(1 for r in owned if (r.source, r.external_id) not in known), bool(new_identities)


def _account_row(record: AccountRecord, now: datetime) -> dict[str, Any]:
    row = record.model_dump(exclude={"same_as"})
    row["usage_limits"] = dict(record.usage_limits)
    row["created_at"] = row["updated_at"] = now
    return row


def _link_parents(session: Session, account_ids: Sequence[int], keys: Sequence[Key]) -> None:
    """Point ``parent_id`` at the parent's account, for the batch and for children awaiting it."""
    parent = account_id_of(Account.source, Account.parent_external_id)
    session.execute(
        update(Account)
        .where(
            Account.parent_external_id.is_not(None),
            Account.id.in_(account_ids)
            | keys_in(session, (Account.source, Account.parent_external_id), keys),
        )
        .values(parent_id=parent)
        .execution_options(synchronize_session=False)
    )


def _write_owned(
    session: Session, records: Sequence[AccountOwnedRecord], now: datetime, touched: set[int]
) -> tuple[int, int]:
    """Upsert records that belong to an account; return (written, still unresolved).

    The accounts they resolved to are added to ``touched``.
    """
    model = _OWNED_TABLES[type(records[0])]
    table: Table = model.__table__  # type: ignore[assignment]
    refs = identities(
        session,
        [(ref.source, ref.external_id) for r in records if (ref := r.account_ref) is not None],
    )
    domains = {r.external_id: _email_domain(r.resolution_email) for r in records}
    by_domain = accounts_by_domain(session, [d for d in domains.values() if d])

    rows: list[dict[str, Any]] = []
    unresolved = 0
    for record in records:
        ref = record.account_ref
        domain = domains[record.external_id]
        account_id: int | None = None
        method: ResolutionMethod | None = None
        if ref is not None:
            if (ref.source, ref.external_id) in refs:
                account_id = refs[(ref.source, ref.external_id)][0]
                method = (
                    ResolutionMethod.EXTERNAL_ID
                    if ref.source == record.source
                    else ResolutionMethod.EXPLICIT
                )
        elif domain and len(by_domain.get(domain, [])) == 1:
            account_id, method = by_domain[domain][0][0], ResolutionMethod.EMAIL_DOMAIN
        unresolved += account_id is None
        row = record.model_dump(exclude=_OWNED_FIELDS_EXCLUDED)
        row.update(
            source=record.source,
            external_id=record.external_id,
            account_source=ref.source if ref else None,
            account_external_id=ref.external_id if ref else None,
            account_id=account_id,
            resolution=method,
            email_domain=domain,
            created_at=now,
            updated_at=now,
        )
        rows.append(_json_ready(row))

    if isinstance(records[0], UsageEventRecord):
        # Only new events change inputs: a repeated delivery is dropped.
        # A messageId seen before is a duplicate delivery, not an update (Segment semantics).
        inserted = bulk_upsert(
            session,
            table,
            ("source", "external_id"),
            rows,
            update=None,
            returning=("account_id", "timestamp"),
        )
        refresh_usage_rollups(
            session, {(row.account_id, row.timestamp) for row in inserted if row.account_id}
        )
        touched.update(row.account_id for row in inserted if row.account_id)
        return len(inserted), unresolved
    if isinstance(records[0], ContactRecord):
        append_events(session, _role_changes(session, rows))
    bulk_upsert(session, table, ("source", "external_id"), rows)
    touched.update(row["account_id"] for row in rows if row["account_id"])
    return len(rows), unresolved


def delete_records(session: Session, model: type[Record], keys: Sequence[Key]) -> int:
    """Delete the records of kind ``model`` a source deleted, by ``(source, external_id)``, in
    the caller's transaction; returns how many were stored. Keys never stored are ignored.

    A deleted account loses that source's identity; the account itself goes (with its scores,
    signals and tasks) only when no other source still knows it, and its records from other
    sources then wait, unresolved, for an account to claim them. The accounts whose records
    were deleted are marked for rescoring. Usage events cannot be deleted: their daily rollups
    have already counted them.
    """
    if not keys:
        return 0
    if model is AccountRecord:
        return _delete_accounts(session, keys)
    if model is UsageEventRecord or model not in _OWNED_TABLES:
        raise TypeError(f"{model.__name__} records cannot be deleted")
    table: Table = _OWNED_TABLES[model].__table__  # type: ignore[assignment]
    removed = session.execute(
        delete(table)
        .where(tuple_(table.c.source, table.c.external_id).in_(keys))
        .returning(table.c.account_id)
    ).all()
    mark_for_rescoring(session, (row.account_id for row in removed))
    return len(removed)


def _delete_accounts(session: Session, keys: Sequence[Key]) -> int:
    known = tuple_(AccountIdentity.source, AccountIdentity.external_id).in_(keys)
    removed = list(
        session.scalars(delete(AccountIdentity).where(known).returning(AccountIdentity.account_id))
    )
    accounts = set(removed)
    forgotten = set(
        session.scalars(
            delete(Account)
            .where(Account.id.in_(accounts),
                   ~exists().where(AccountIdentity.account_id == Account.id))
            .returning(Account.id)
        )
    )  # fmt: skip
    append_events(
        session,
        [NewEvent(ACCOUNT_DELETED, {"account_id": account}, account) for account in forgotten],
    )
    mark_for_rescoring(session, accounts - forgotten)
    return len(removed)


_ROLES = (("is_champion", "champion"), ("is_executive_sponsor", "executive_sponsor"),
          ("is_admin", "admin"))  # fmt: skip


def _role_changes(session: Session, rows: Sequence[Mapping[str, Any]]) -> list[NewEvent]:
    """``contact.role_changed`` events for stored contacts whose title, roles or status the
    incoming rows change (a new contact is no change)."""
    keys = [(row["source"], row["external_id"]) for row in rows]
    before = {
        (found.source, found.external_id): found
        for found in session.execute(
            select(Contact.source, Contact.external_id, Contact.title, Contact.status,
                   *(getattr(Contact, column) for column, _ in _ROLES))
            .where(tuple_(Contact.source, Contact.external_id).in_(keys))
        )
    }  # fmt: skip
    events = []
    for row in rows:
        old = before.get((row["source"], row["external_id"]))
        if old is None:
            continue
        changes = []
        if (old.title or "") != (row["title"] or ""):
            changes.append(f"title {old.title or '-'} -> {row['title'] or '-'}")
        became = [role for column, role in _ROLES if row[column] and not getattr(old, column)]
        ceased = [role for column, role in _ROLES if getattr(old, column) and not row[column]]
        changes += [f"became {role}" for role in became] + [f"no longer {r}" for r in ceased]
        if old.status != row["status"]:
            changes.append(f"status {old.status.value} -> {row['status'].value}")
        if changes:
            events.append(
                NewEvent(
                    CONTACT_ROLE_CHANGED,
                    {"account_id": row["account_id"], "contact": f"{row['source']}:"
                     f"{row['external_id']}", "email": row["email"], "change": "; ".join(changes),
                     "became": became, "ceased": ceased},
                    row["account_id"],
                )
            )  # fmt: skip
    return events


def _json_ready(row: dict[str, Any]) -> dict[str, Any]:
    """Tuples (a contract's products) are stored as JSON arrays and read back as lists."""
    return {name: list(value) if isinstance(value, tuple) else value for name, value in row.items()}


def _email_domain(email: str | None) -> str | None:
    if not email or "@" not in email:
        return None
    return email.rsplit("@", 1)[1].lower()


def resolve_pending_accounts(session: Session) -> int:
    """Tie stored records that still lack an account to the accounts that have since arrived.

    Set-based: two ``UPDATE`` statements per kind of record, by external-id reference and by
    unambiguous e-mail domain. Usage rollups follow the events that gained an account.
    Returns how many records were resolved.
    """
    resolved = 0
    for model in _OWNED_TABLES.values():
        table: Any = model
        by_ref = account_id_of(table.account_source, table.account_external_id)
        same_domain = select(Account.id).where(Account.domain == table.email_domain)
        one_account = (
            select(func.count()).select_from(same_domain.subquery()).scalar_subquery() == 1
        )
        statements = (
            update(table)
            .where(table.account_id.is_(None), by_ref.is_not(None))
            .values(
                account_id=by_ref,
                resolution=case(
                    (table.account_source == table.source, ResolutionMethod.EXTERNAL_ID.value),
                    else_=ResolutionMethod.EXPLICIT.value,
                ),
            ),
            update(table)
            .where(
                table.account_id.is_(None),
                table.account_external_id.is_(None),
                table.email_domain.is_not(None),
                one_account,
            )
            .values(
                account_id=same_domain.scalar_subquery(),
                resolution=ResolutionMethod.EMAIL_DOMAIN.value,
            ),
        )
        for statement in statements:
            gained = session.execute(
                statement.returning(table.account_id, table.updated_at)
                if model is not UsageEvent
                else statement.returning(table.account_id, table.timestamp),
                execution_options={"synchronize_session": False},
            ).all()
            if model is UsageEvent:
                refresh_usage_rollups(session, {(row[0], row[1]) for row in gained})
            mark_for_rescoring(session, (row[0] for row in gained))
            resolved += len(gained)
    return resolved
