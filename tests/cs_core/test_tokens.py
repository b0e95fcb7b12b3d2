"""API tokens: shown once, stored as a digest, scoped, revocable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from cs_core import (
    ApiToken,
    InvalidArgumentError,
    Scope,
    Store,
    create_token,
    list_tokens,
    note_token_use,
    revoke_token,
    verify_token,
)

NOW = datetime(2026, 11, 23, 9, tzinfo=UTC)


def test_a_token_is_checked_by_its_digest_and_never_stored(store: Store) -> None:
    with store.transaction() as session:
        info, secret = create_token(session, "dashboard", [Scope.WRITE], now=NOW)
    with store.transaction() as session:
        assert secret not in repr(session.scalars(select(ApiToken.__table__)).all())
        found = verify_token(session, secret)
        assert found is not None
        assert (found.id, found.name, found.scopes) == (info.id, "dashboard", (Scope.WRITE,))
        assert verify_token(session, secret + "x") is None
        assert verify_token(session, "Bearer " + secret) is None
    assert found.allows(Scope.READ)
    assert found.allows(Scope.WRITE)
    assert not found.allows(Scope.ADMIN)


def test_last_use_is_noted_at_most_once_a_minute(store: Store) -> None:
    with store.transaction() as session:
        _, secret = create_token(session, "ci", [Scope.READ], now=NOW)
    noted = []
    for seconds in (0, 30, 61):
        with store.transaction() as session:
            token = verify_token(session, secret)
        assert token is not None
        noted.append(token.last_used_at)
        with store.transaction() as session:
            note_token_use(session, token, now=NOW + timedelta(seconds=seconds))
    with store.transaction() as session:
        (token,) = list_tokens(session)
    assert noted == [None, NOW, NOW]  # checking alone writes nothing
    assert token.last_used_at == NOW + timedelta(seconds=61)


def test_a_revoked_token_opens_nothing(store: Store) -> None:
    with store.transaction() as session:
        info, secret = create_token(session, "old", [Scope.ADMIN], now=NOW)
        revoke_token(session, info.id, now=NOW)
        again = revoke_token(session, info.id, now=NOW + timedelta(days=1))
        assert again.revoked_at == NOW
        assert verify_token(session, secret) is None
        with pytest.raises(InvalidArgumentError, match="no API token 99"):
            revoke_token(session, 99)


def test_scopes_are_parsed_with_named_errors() -> None:
    assert Scope.parse(["read", " WRITE", "read"]) == (Scope.READ, Scope.WRITE)
    with pytest.raises(InvalidArgumentError, match="unknown scope 'owner'; scopes: read, write"):
        Scope.parse(["owner"])
    with pytest.raises(InvalidArgumentError, match="at least one scope"):
        Scope.parse([])


def test_a_token_needs_a_name(store: Store) -> None:
    with store.transaction() as session, pytest.raises(InvalidArgumentError, match="name"):
        create_token(session, "  ", [Scope.READ])
