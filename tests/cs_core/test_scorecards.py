"""Scorecards are validated when built, from Python or TOML, with errors naming what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from cs_core import (
    Band,
    Bands,
    ConfigurationError,
    Dimension,
    LifecycleStage,
    LinearScale,
    Measure,
    Scorecard,
    ScorecardRule,
    ScorecardRules,
    Segment,
    Tier,
    builtin_scorecards,
    load_scorecard,
)

GOOD = """
id = "mini"
version = 2
name = "Mini"
tiers = [{ name = "Green", min = 80 }, { name = "Red", min = 0 }]

[[dimensions]]
name = "Usage"
weight = 100

  [[dimensions.measures]]
  name = "active"
  metric = "active_user_ratio"
  weight = 100
  scale = { kind = "bands", bands = [
    { range = "[0.5, inf)", points = 100 },
    { range = "(-inf, 0.5)", points = 0 },
  ] }
"""


def mini(**replacements: str) -> str:
    text = GOOD
    for old, new in replacements.items():
        text = text.replace(old, new)
    return text


def test_a_scorecard_loads_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "mini.toml"
    path.write_text(GOOD)
    scorecard = load_scorecard(path)
    assert (scorecard.id, scorecard.version, scorecard.metrics) == (
        "mini",
        2,
        frozenset({"active_user_ratio"}),
    )
    assert scorecard.fingerprint == Scorecard.from_toml(GOOD).fingerprint
    changed = Scorecard.from_toml(mini(**{"points = 0": "points = 10"}))
    assert changed.fingerprint != scorecard.fingerprint


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            mini(**{"weight = 100\n\n  [[": "weight = 90\n\n  [["}),
            "the dimensions' weights sum to 90, not 100",
        ),
        (
            mini(**{'ratio"\n  weight = 100': 'ratio"\n  weight = 60'}),
            "dimension 'Usage''s measures sum to 60, not 100",
        ),
        (
            mini(**{"[0.5, inf)": "[0.6, inf)"}),
            "bands (-inf, 0.5) and [0.6, inf) leave a gap between them",
        ),
        (mini(**{"(-inf, 0.5)": "(-inf, 0.5]"}), "bands (-inf, 0.5] and [0.5, inf) overlap"),
        (
            mini(**{"[0.5, inf)": "(0.5, inf)"}),
            "bands (-inf, 0.5) and (0.5, inf) leave a gap between them",
        ),
        (mini(**{"[0.5, inf)": "[0.5, 9)"}), "the highest band must end at inf"),
        (mini(**{"[0.5, inf)": "[0.5, inf]"}), "cannot include infinity"),
        (mini(**{"[0.5, inf)": "0.5 and up"}), "is not an interval"),
        (mini(**{"min = 0 }": "min = 10 }"}), "one tier must start at 0"),
        (mini(**{"points = 100": "points = 120"}), "less than or equal to 100"),
        (
            mini(**{'metric = "active_user_ratio"': 'metric = "active_users_ratio"'}),
            "unknown metrics: active reads 'active_users_ratio'",
        ),
        (mini(**{'kind = "bands"': 'kind = "curve"'}), "scale"),
        ("id = ", "is not valid TOML"),
    ],
)
def test_invalid_scorecards_say_what_to_fix(text: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Scorecard.from_toml(text, source="mini.toml")
    assert message in str(caught.value)
    assert "mini.toml" in str(caught.value)


def test_errors_point_at_the_measure_by_name() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Scorecard.from_toml(mini(**{"points = 100": "points = -1"}))
    assert "dimension 'Usage' > measure 'active' > scale" in str(caught.value)


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"cannot read scorecard .*nope\.toml"):
        load_scorecard(tmp_path / "nope.toml")


def test_scorecards_can_be_built_in_python() -> None:
    scorecard = Scorecard(
        id="py",
        version=1,
        name="Built in Python",
        dimensions=(
            Dimension(
                name="Usage",
                weight=100,
                measures=(
                    Measure(
                        name="trend",
                        metric="usage_trend",
                        weight=100,
                        scale=LinearScale(worst=-0.5, best=0.2),
                    ),
                ),
            ),
        ),
        tiers=(Tier(name="Good", min=50), Tier(name="Bad", min=0)),
    )
    assert scorecard.tier_for(50) == "Good"
    assert scorecard.tier_for(49.99) == "Bad"
    assert Bands(bands=(Band(range="(-inf, inf)", points=40),)).points_for(3)[0] == 40


def test_the_seeds_models_ship_as_builtins() -> None:
    scorecards = builtin_scorecards()
    assert set(scorecards) == {"sop", "customer_success_framework", "platform_stage", "onboarding"}
    weights = {sid: {d.name: d.weight for d in card.dimensions} for sid, card in scorecards.items()}
    assert weights["sop"] == {"Usage": 40, "Engagement": 30, "Value": 20, "Satisfaction": 10}
    assert weights["customer_success_framework"] == {
        "Usage": 35,
        "Engagement": 25,
        "Business": 25,
        "Relationship": 15,
    }
    platform = weights["platform_stage"]
    assert 30 <= platform["Product Usage"] <= 40
    assert 20 <= platform["Engagement"] <= 25
    assert 15 <= platform["Relationship"] <= 20
    assert 15 <= platform["Business Outcomes"] <= 20
    assert 10 <= platform["Financial"] <= 15
    assert [(t.name, t.min) for t in scorecards["platform_stage"].ordered_tiers] == [
        ("Green", 80),
        ("Yellow", 50),
        ("Red", 0),
    ]
    assert [(t.name, t.min) for t in scorecards["sop"].ordered_tiers] == [
        ("Green", 80),
        ("Yellow", 60),
        ("Red", 0),
    ]


def test_rules_choose_a_scorecard_per_account() -> None:
    rules = ScorecardRules(
        rules=(
            ScorecardRule(
                scorecard="onboarding", lifecycle_stages=frozenset({LifecycleStage.ONBOARDING})
            ),
            ScorecardRule(scorecard="platform_stage", segments=frozenset({Segment.ENTERPRISE})),
            ScorecardRule(scorecard="sop"),
        )
    )
    assert rules.choose(Segment.ENTERPRISE, LifecycleStage.ONBOARDING) == "onboarding"
    assert rules.choose(Segment.ENTERPRISE, LifecycleStage.SUCCESS) == "platform_stage"
    assert rules.choose(Segment.SMB, LifecycleStage.SUCCESS) == "sop"
    rules.check_scorecards(builtin_scorecards())


def test_rules_must_end_with_a_catch_all_and_name_known_scorecards() -> None:
    with pytest.raises(ValueError, match="the last rule must have no conditions"):
        ScorecardRules(rules=(ScorecardRule(scorecard="sop", segments=frozenset({Segment.SMB})),))
    with pytest.raises(ConfigurationError, match="unknown scorecards: nope"):
        ScorecardRules(rules=(ScorecardRule(scorecard="nope"),)).check_scorecards(
            builtin_scorecards()
        )
