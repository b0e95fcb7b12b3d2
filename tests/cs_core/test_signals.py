"""Predictive signals: when each fires, with what evidence, and how runs open and resolve them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from cs_core import (
    AccountRecord,
    ContactRecord,
    Severity,
    Signal,
    SignalThresholds,
    Store,
    detect_signals,
    read_events,
    score_all,
)

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)

QUIET: dict[str, float | None] = {
    "usage_trend": 0.0,
    "usage_change_90d": 0.0,
    "days_since_last_activity": 1,
    "champions_left": 0,
    "latest_nps": 9,
    "ticket_spike_ratio": 1.0,
    "tickets_last_30_days": 2,
    "active_user_ratio": 0.5,
    "months_since_last_expansion": 3,
    "days_to_renewal": 300,
}


def kinds(
    metrics: dict[str, float | None], tier: str | None = "Green", **limits: object
) -> set[str]:
    thresholds = SignalThresholds.model_validate(limits)
    return {signal.kind for signal in detect_signals(metrics, tier, thresholds)}


def test_a_healthy_account_fires_nothing() -> None:
    assert kinds(QUIET) == set()
    assert kinds({}) == set()


@pytest.mark.parametrize(
    ("change", "kind"),
    [
        ({"usage_trend": -0.21}, "usage_drop"),
        ({"usage_change_90d": -0.51}, "usage_decline"),
        ({"days_since_last_activity": 30}, "no_activity"),
        ({"champions_left": 1}, "champion_left"),
        ({"latest_nps": 6}, "negative_nps"),
        ({"ticket_spike_ratio": 2.5, "tickets_last_30_days": 5}, "ticket_spike"),
        ({"active_user_ratio": 0.81}, "entitlement_near_limit"),
        ({"months_since_last_expansion": 12.5}, "no_expansion"),
    ],
)
def test_each_signal_fires_past_its_threshold(change: dict[str, float | None], kind: str) -> None:
    assert kinds(QUIET | change) == {kind}


@pytest.mark.parametrize(
    "change",
    [
        {"usage_trend": -0.2},
        {"usage_change_90d": -0.5},
        {"days_since_last_activity": 29},
        {"latest_nps": 7},
        {"ticket_spike_ratio": 2.0, "tickets_last_30_days": 9},
        {"ticket_spike_ratio": 9.0, "tickets_last_30_days": 2},  # too few to be a spike
        {"active_user_ratio": 0.8},
        {"months_since_last_expansion": 12},
    ],
)
def test_nothing_fires_at_the_threshold_itself(change: dict[str, float | None]) -> None:
    assert kinds(QUIET | change) == set()


def test_renewal_risk_needs_a_close_renewal_and_a_weak_tier() -> None:
    close = QUIET | {"days_to_renewal": 120}
    assert kinds(close, "Yellow") == {"renewal_at_risk"}
    assert kinds(close, "Red") == {"renewal_at_risk"}
    assert kinds(close, "Green") == set()
    assert kinds(QUIET | {"days_to_renewal": 181}, "Red") == set()
    (signal,) = detect_signals(close, "Red")
    assert signal.severity is Severity.CRITICAL
    assert signal.evidence == {"days_to_renewal": 120, "tier": "Red", "threshold": 180}


def test_thresholds_are_configurable_and_checked() -> None:
    assert kinds(QUIET | {"usage_trend": -0.15}, usage_drop=0.1) == {"usage_drop"}
    assert kinds(QUIET | {"days_to_renewal": 250}, "Red", renewal_window_days=270) == {
        "renewal_at_risk"
    }
    with pytest.raises(ValueError, match="usage_drop"):
        SignalThresholds(usage_drop=1.5)
    with pytest.raises(ValueError, match="nope"):
        SignalThresholds.model_validate({"nope": 1})


def test_evidence_carries_the_numbers_that_fired() -> None:
    (signal,) = detect_signals(QUIET | {"usage_trend": -0.35}, "Green")
    assert signal.evidence == {"usage_trend": -0.35, "threshold": -0.2}
    assert signal.severity is Severity.MEDIUM


def test_runs_open_refresh_and_resolve_signals(store: Store) -> None:
    champion = {"source": "crm", "account_external_id": "A", "email": "c@a.example.com"}
    store.write(
        [
            AccountRecord(source="crm", external_id="A", name="A", segment="smb"),
            ContactRecord(external_id="c", is_champion=True, status="left_company", **champion),
        ]
    )
    first = score_all(store, as_of=AS_OF)
    assert first.signals_opened == 1
    again = score_all(store, as_of=AS_OF + timedelta(days=1))
    assert again.signals_opened == 0
    with store.transaction() as session:
        (signal,) = session.scalars(select(Signal)).all()
        assert (signal.kind, signal.severity, signal.resolved_at) == ("champion_left", "high", None)
        assert signal.first_seen_at == AS_OF
        assert signal.last_seen_at == AS_OF + timedelta(days=1)
    store.write([ContactRecord(external_id="c", is_champion=True, status="active", **champion)])
    score_all(store, as_of=AS_OF + timedelta(days=2))
    with store.transaction() as session:
        (signal,) = session.scalars(select(Signal)).all()
        assert signal.resolved_at == AS_OF + timedelta(days=2)
        types = [
            event.type for event in read_events(session, types={"signal.fired", "signal.resolved"})
        ]
    assert types == ["signal.fired", "signal.resolved"]
