"""API tokens: created with scopes, stored as a SHA-256 digest, checked, revoked.

A token is 32 random bytes: so much entropy that a fast hash is as good as a slow one (a digest
cannot be reversed by guessing), and checking one costs one indexed lookup. Scopes nest: ``admin``
includes ``write``, which includes ``read``.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from cs_core._errors import InvalidArgumentError
from cs_core._tables import ApiToken
from cs_core._types import utc_moment

__all__ = [
    "Scope",
    "TokenInfo",
    "create_token",
    "list_tokens",
    "note_token_use",
    "revoke_token",
    "verify_token",
]

_PREFIX = "cs_"
_USE_NOTED_EVERY = timedelta(minutes=1)


class Scope(StrEnum):
    """What a token may do; each includes the ones before it."""

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"

    def includes(self, other: Scope) -> bool:
        """Whether holding this scope grants ``other``."""
        order = list(Scope)
        return order.index(self) >= order.index(other)

    @classmethod
    def parse(cls, names: Iterable[str]) -> tuple[Scope, ...]:
        """Scopes from their names; an unknown one is named with the valid ones."""
        chosen = []
        for name in names:
            try:
                chosen.append(cls(name.strip().lower()))
            except ValueError:
                valid = ", ".join(scope.value for scope in cls)
                raise InvalidArgumentError(f"unknown scope {name!r}; scopes: {valid}") from None
        if not chosen:
            raise InvalidArgumentError("give a token at least one scope: read, write or admin")
        return tuple(dict.fromkeys(chosen))


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A token as the store knows it (never its secret)."""

    id: int
    name: str
    scopes: tuple[Scope, ...]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    def allows(self, needed: Scope) -> bool:
        """Whether the token is live and one of its scopes grants ``needed``."""
        return self.revoked_at is None and any(scope.includes(needed) for scope in self.scopes)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _info(row: ApiToken) -> TokenInfo:
    return TokenInfo(row.id, row.name, tuple(Scope(s) for s in row.scopes), row.created_at,
                     row.last_used_at, row.revoked_at)  # fmt: skip


def create_token(
    session: Session, name: str, scopes: Sequence[Scope], *, now: datetime | None = None
) -> tuple[TokenInfo, str]:
    """A new token and its secret, which is not stored and cannot be shown again."""
    if not name.strip():
        raise InvalidArgumentError("give the token a name that says who or what uses it")
    if not scopes:
        raise InvalidArgumentError("give a token at least one scope: read, write or admin")
    secret = _PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(name=name.strip(), digest=_digest(secret), scopes=[s.value for s in scopes],
                   created_at=utc_moment(now, "now"))  # fmt: skip
    session.add(row)
    session.flush()
    return _info(row), secret


def verify_token(session: Session, secret: str) -> TokenInfo | None:
    """The live token whose secret this is, or ``None``. It only reads: note the use with
    :func:`note_token_use`."""
    if not secret.startswith(_PREFIX):
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.digest == _digest(secret)))
    if row is None or row.revoked_at is not None:
        return None
    return _info(row)


def note_token_use(session: Session, token: TokenInfo, *, now: datetime | None = None) -> None:
    """Note that ``token`` was used, at most once a minute (no statement at all in between).

    One conditional UPDATE in a transaction of its own, so that checking a token stays a
    read-only transaction, which never waits for a writer (see :meth:`Store.transaction`).
    """
    moment = utc_moment(now, "now")
    if token.last_used_at is not None and moment - token.last_used_at < _USE_NOTED_EVERY:
        return
    stale = or_(ApiToken.last_used_at.is_(None),
                ApiToken.last_used_at <= moment - _USE_NOTED_EVERY)  # fmt: skip
    session.execute(
        update(ApiToken).where(ApiToken.id == token.id, stale).values(last_used_at=moment)
    )


def list_tokens(session: Session) -> list[TokenInfo]:
    """Every token, revoked ones included, oldest first."""
    return [_info(row) for row in session.scalars(select(ApiToken).order_by(ApiToken.id))]


def revoke_token(session: Session, token_id: int, *, now: datetime | None = None) -> TokenInfo:
    """Revoke a token for good; revoking one twice keeps the first moment."""
    row = session.get(ApiToken, token_id)
    if row is None:
        raise InvalidArgumentError(f"no API token {token_id}; `cs token list` shows them")
    if row.revoked_at is None:
        row.revoked_at = utc_moment(now, "now")
    return _info(row)
