"""Policies: the seeds' numbers as shipped defaults, and a user's file laid over them."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from cs_core import ConfigurationError, RenewalTrack, Severity, TicketPriority, load_policies
from cs_core._types import parse_duration


def test_shipped_defaults_are_the_sops_slas_and_the_seeds_renewal_workflow() -> None:
    policies = load_policies()
    sla = policies.support.sla
    targets = {priority: (goal.first_response, goal.resolution) for priority, goal in sla.items()}
    assert targets == {
        TicketPriority.P1: (timedelta(hours=1), timedelta(hours=4)),
        TicketPriority.P2: (timedelta(hours=4), timedelta(hours=24)),
        TicketPriority.P3: (timedelta(hours=24), timedelta(days=3)),
        TicketPriority.P4: (timedelta(days=3), timedelta(days=7)),
    }  # fmt: skip
    assert policies.support.escalation.levels == (
        "support", "csm", "engineering", "vp_customer_success",
    )  # fmt: skip
    standard = policies.renewals.tracks[RenewalTrack.STANDARD]
    assert [(step.step, step.days_before, step.until_days_before) for step in standard.steps] == [
        ("forecast", 180, None), ("health_check", 150, None), ("pricing_review", 120, None),
        ("proposal", 90, None), ("negotiation", 90, 60), ("close", 30, None),
        ("post_renewal", -1, None),
    ]  # fmt: skip
    renewal = date(2027, 6, 30)
    negotiation = standard.steps[4]
    assert (negotiation.due(renewal), negotiation.closes(renewal)) == (
        date(2027, 4, 1), date(2027, 5, 1),
    )  # fmt: skip
    assert standard.steps[-1].due(renewal) == date(2027, 7, 1)  # day 1 of the new term


def test_a_users_file_changes_only_what_it_names(tmp_path: Path) -> None:
    path = tmp_path / "policies.toml"
    path.write_text('[support.sla.p1]\nresolution = "2h"\n[renewals.likelihood]\nred = 0.3\n')
    policies = load_policies(path)
    assert policies.support.sla[TicketPriority.P1].resolution == timedelta(hours=2)
    assert policies.support.sla[TicketPriority.P1].first_response == timedelta(hours=1)
    assert policies.renewals.base_likelihood("Red") == 0.3
    assert policies.renewals.base_likelihood("Green") == 0.95
    assert policies.renewals.base_likelihood(None) == 0.70
    assert policies.renewals.signal_penalty[Severity.HIGH] == 0.10


def test_cs_policies_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "policies.toml"
    path.write_text('[support.sla.p4]\nfirst_response = "2d"\n')
    monkeypatch.setenv("CS_POLICIES", str(path))
    assert load_policies().support.sla[TicketPriority.P4].first_response == timedelta(days=2)
    path.write_text('[support.sla.p4]\nfirst_response = "1d"\n')
    assert load_policies().support.sla[TicketPriority.P4].first_response == timedelta(days=1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[support.sla.p1]\nresolution = "soon"',
         "support.sla.p1.resolution: Value error, duration 'soon' is not a duration"),
        ('[support.sla.p1]\nresolution = "30m"',
         "support.sla.p1: Value error, resolution must not come before first_response"),
        ('[support.escalation]\nexecutive = "ceo"', "executive 'ceo' is not one of the levels"),
        ("[renewals.likelihood]\nred = 1.5", "red: 1.5 is not a probability between 0 and 1"),
        ("[renewals.tracks.auto]\nsteps = []",
         "renewals.tracks.auto.steps: Tuple should have at least 1 item"),
        ('[renewals.tracks.auto]\nsteps = ['
         '{step = "a", days_before = 10, owner = "csm", action = "x"},'
         ' {step = "b", days_before = 20, owner = "csm", action = "y"}]',
         "steps must be listed from the earliest"),
        ('[support.sla.p1]\nfirst_respons = "1h"',
         "support.sla.p1.first_respons: Extra inputs are not permitted"),
        ("[support.sla.p1\n", "is not valid TOML"),
    ],
)  # fmt: skip
def test_a_bad_file_is_refused_with_where_and_why(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "policies.toml"
    path.write_text(text)
    with pytest.raises(ConfigurationError, match=r"policies file .*policies\.toml") as raised:
        load_policies(path)
    assert message in str(raised.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"policies file .*nowhere.toml does not exist"):
        load_policies(tmp_path / "nowhere.toml")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("30m", timedelta(minutes=30)), ("4h", timedelta(hours=4)), ("3d", timedelta(days=3)),
     (" 2W ", timedelta(weeks=2)), ("1.5h", timedelta(minutes=90))],
)  # fmt: skip
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "4", "h", "4 hours", "-1d", "4y"])
def test_bad_durations_say_how_to_write_one(text: str) -> None:
    with pytest.raises(ValueError, match="give a number and a unit, as 30m, 4h, 3d or 2w"):
        parse_duration(text)
