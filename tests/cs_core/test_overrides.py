"""Overrides: who, why, until when; the computed score is kept; rates per scorecard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cs_core import (
    AccountRecord,
    CSError,
    InvalidArgumentError,
    Store,
    clear_override,
    effective_health,
    override_health,
    override_rates,
    read_events,
    score_all,
)

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
LATER = AS_OF + timedelta(hours=1)


@pytest.fixture
def scored(store: Store) -> Store:
    store.write(
        [
            AccountRecord(source="crm", external_id=f"A{i}", name=f"A{i}", segment="smb",
                          lifecycle_stage="onboarding" if i == 3 else "success")
            for i in range(4)
        ]
    )  # fmt: skip
    score_all(store, as_of=AS_OF)
    return store


def test_an_override_counts_until_it_expires_and_the_computed_score_is_kept(scored: Store) -> None:
    with scored.transaction() as session:
        computed = effective_health(session, 1, now=LATER)
        override = override_health(
            session, 1, 85, author="ann@cs.example.com", reason="Signed a 3-year renewal yesterday",
            expires_at=AS_OF + timedelta(days=30), now=LATER,
        )  # fmt: skip
        assert (override.tier, override.computed_score) == ("Green", computed.computed_score)
        health = effective_health(session, 1, now=LATER + timedelta(days=1))
        assert (health.score, health.tier, health.overridden) == (85, "Green", True)
        assert health.computed_score == computed.computed_score
        expired = effective_health(session, 1, now=AS_OF + timedelta(days=31))
        assert (expired.overridden, expired.score) == (False, computed.computed_score)
        (event,) = read_events(session, types={"health.overridden"})
    assert event.payload["reason"] == "Signed a 3-year renewal yesterday"
    assert event.payload["override"] == {"score": 85.0, "tier": "Green"}


def test_a_new_override_replaces_the_one_in_force_and_can_be_cleared(scored: Store) -> None:
    with scored.transaction() as session:
        first = override_health(session, 1, 30, author="ann", reason="Champion left", now=LATER)
        second = override_health(
            session, 1, 45, author="bob", reason="New champion found", now=LATER + timedelta(1)
        )
        assert (first.cleared_at, first.cleared_by) == (LATER + timedelta(1), "bob")
        assert effective_health(session, 1, now=LATER + timedelta(2)).score == 45
        cleared = clear_override(session, 1, author="carol", now=LATER + timedelta(3))
        assert cleared.id == second.id
        assert not effective_health(session, 1, now=LATER + timedelta(4)).overridden
        with pytest.raises(CSError, match="has no override in force"):
            clear_override(session, 1, author="carol", now=LATER + timedelta(5))


@pytest.mark.parametrize(
    ("score", "author", "reason", "expires", "message"),
    [
        (101, "ann", "why", None, "from 0 to 100"),
        (50, "", "why", None, "needs an author"),
        (50, "ann", "  ", None, "needs a reason"),
        (50, "ann", "why", AS_OF, "which has passed"),
    ],
)
def test_bad_overrides_are_refused(
    scored: Store, score: float, author: str, reason: str, expires: datetime | None, message: str
) -> None:
    with scored.transaction() as session, pytest.raises(CSError, match=message):
        override_health(
            session, 1, score, author=author, reason=reason, expires_at=expires, now=LATER
        )


def test_an_unscored_account_cannot_be_overridden(store: Store) -> None:
    store.write([AccountRecord(source="crm", external_id="new", name="New", segment="smb")])
    with store.transaction() as session, pytest.raises(CSError, match="run `cs score` first"):
        override_health(session, 1, 50, author="ann", reason="why", now=LATER)


def test_override_rates_per_scorecard(scored: Store) -> None:
    with scored.transaction() as session:
        override_health(session, 1, 90, author="ann", reason="Knows better", now=LATER)
        override_health(session, 4, 90, author="ann", reason="Knows better", now=LATER)
        rates = {
            rate.scorecard_id: (rate.accounts, rate.overridden, rate.rate)
            for rate in override_rates(session, now=LATER)
        }
    assert rates == {"onboarding": (1, 1, 1.0), "sop": (3, 1, 1 / 3)}


def test_times_without_a_timezone_and_anonymous_clearing_are_refused(scored: Store) -> None:
    naive = datetime(2026, 11, 1, 12)  # noqa: DTZ001 - the mistake under test
    with scored.transaction() as session:
        with pytest.raises(InvalidArgumentError, match="now 2026-11-01T12:00:00 has no timezone"):
            override_health(session, 1, 50, author="ann", reason="why", now=naive)
        with pytest.raises(
            InvalidArgumentError, match=r"expires_at 2026-11-01T12:00:00 has no timezone"
        ):
            override_health(session, 1, 50, author="ann", reason="why", expires_at=naive)
        override_health(session, 1, 50, author="ann", reason="why", now=LATER)
        with pytest.raises(CSError, match="clearing an override needs an author"):
            clear_override(session, 1, author=" ", now=LATER)
        assert effective_health(session, 1, now=LATER).overridden
