"""Scoring: hand-computed scores for every built-in scorecard, and the properties that must hold."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cs_core import (
    BUILTIN_METRICS,
    Dimension,
    Direction,
    LinearScale,
    Measure,
    MissingPolicy,
    Scorecard,
    Tier,
    builtin_scorecards,
    score_account,
)

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
SCORECARDS = builtin_scorecards()
DIRECTIONS = {metric.name: metric.direction for metric in BUILTIN_METRICS}


def test_sop_by_hand() -> None:
    score = score_account(
        SCORECARDS["sop"],
        {
            "active_user_ratio": 0.85,  # Green 100
            "workflows_running": 2,  # Yellow 70
            "feature_adoption": 0.3,  # Red 30   -> Usage (34*100 + 33*70 + 33*30) / 100 = 67
            "tickets_per_month": 1.5,  # Green 100
            "qbr_attended": 0,  # Red 30
            "outreach_response_hours": 30,  # Yellow 70 -> Engagement 67
            "roi_achieved": 0.5,  # Yellow 70
            "goals_met": 1,  # Green 100 -> Value 85
            "nps": 9,  # Green 100
            "csat": 5,  # Red 30 -> Satisfaction 65
        },
        as_of=AS_OF,
    )
    # 0.4 * 67 + 0.3 * 67 + 0.2 * 85 + 0.1 * 65
    assert score.score == 70.4
    assert score.tier == "Yellow"
    assert [round(d.score or 0, 6) for d in score.dimensions] == [67, 67, 85, 65]
    assert score.missing == ()
    assert math.isclose(sum(m.contribution for m in score.measures), 70.4)
    assert {m.name: m.band for m in score.measures}["outreach_response"] == "Yellow"


def test_customer_success_framework_by_hand() -> None:
    score = score_account(
        SCORECARDS["customer_success_framework"],
        {
            "active_user_ratio": 0.525,  # halfway from 0.2 to 0.85: 50
            "dau_mau": 0.5,  # 100
            "feature_adoption": 0.2,  # 0 -> Usage 0.4*50 + 0.3*100 = 50
            "tickets_per_month": 4.5,  # halfway from 8 to 1: 50
            "executive_sponsor_engaged": 1,  # 100 -> Engagement 75
            "goals_met": 0.5,  # 50
            "roi_achieved": 1,  # 100 -> Business 75
            "champion_present": 0,  # 20
            "nps": 6.5,  # halfway from 3 to 10: 50 -> Relationship 35
        },
        as_of=AS_OF,
    )
    # 0.35 * 50 + 0.25 * 75 + 0.25 * 75 + 0.15 * 35
    assert score.score == 60.25
    assert score.tier == "Yellow"


def test_platform_stage_by_hand() -> None:
    score = score_account(
        SCORECARDS["platform_stage"],
        {
            "dau_mau": 0.2,  # Yellow 65
            "feature_adoption": 0.7,  # Green 100
            "usage_trend": -0.3,  # Red 25 -> Product Usage .35*65 + .35*100 + .3*25 = 65.25
            "tickets_per_month": 6,  # Red 25
            "open_p1_p2_tickets": 0,  # Green 100
            "outreach_response_hours": 10,  # Green 100 -> Engagement 70
            "champion_present": 1,  # 100
            "executive_sponsor_engaged": 0,  # 25 -> Relationship 70
            "roi_achieved": 0.5,  # 65
            "nps": 5,  # 25 -> Business Outcomes 45
            "payment_overdue_days": 0,  # 100
            "months_since_last_expansion": 30,  # 25 -> Financial 70
        },
        as_of=AS_OF,
    )
    # .35*65.25 + .225*70 + .175*70 + .15*45 + .1*70 = 64.5875
    assert score.score == 64.59
    assert score.tier == "Yellow"


def test_onboarding_by_hand_with_each_missing_data_policy() -> None:
    score = score_account(
        SCORECARDS["onboarding"],
        {
            "active_user_ratio": 0.3,  # Yellow 70
            # days_since_last_activity missing: policy "worst", 30 -> Ramp .6*70 + .4*30 = 54
            "champion_present": 1,  # 100
            # executive_sponsor_engaged missing: policy "neutral", 50 -> Relationship 80
            "open_p1_p2_tickets": 3,  # Red 30 -> Support 30
        },
        as_of=AS_OF,
    )
    # .5*54 + .3*80 + .2*30
    assert score.score == 57
    assert score.tier == "Red"
    assert {m.name: (m.missing, m.points) for m in score.missing} == {
        "recent_activity": (MissingPolicy.WORST, 30),
        "executive_sponsor": (MissingPolicy.NEUTRAL, 50),
    }


def test_skipped_measures_share_their_weight_and_empty_dimensions_drop_out() -> None:
    score = score_account(
        SCORECARDS["sop"],
        {"active_user_ratio": 0.9, "nps": 6},  # Green 100 (Usage), Yellow 70 (Satisfaction)
        as_of=AS_OF,
    )
    # Usage and Satisfaction remain, weighing 40 and 10: (40*100 + 10*70) / 50
    assert score.score == 94
    usage = next(m for m in score.measures if m.name == "active_users")
    assert math.isclose(usage.effective_weight, 0.8)
    assert [d.score for d in score.dimensions if d.score is None] == [None, None]
    assert "skipped, its weight shared" in score.explain()


def test_no_data_at_all_gives_no_score() -> None:
    score = score_account(SCORECARDS["sop"], {}, as_of=AS_OF)
    assert (score.score, score.tier) == (None, None)
    assert score.explain().startswith("Health no score: no measure had data")


def test_nan_is_missing() -> None:
    score = score_account(SCORECARDS["sop"], {"nps": math.nan, "csat": 9}, as_of=AS_OF)
    assert score.score == 100
    assert [m.name for m in score.missing if m.name in {"nps", "csat"}] == ["nps"]


def test_levers_rank_what_would_move_the_score() -> None:
    score = score_account(
        SCORECARDS["sop"],
        {
            "active_user_ratio": 0.62,
            "workflows_running": 4,
            "feature_adoption": 0.35,
            "tickets_per_month": 3.2,
            "nps": 9,
            "csat": 7.5,
        },
        as_of=AS_OF,
    )
    levers = score.levers(limit=None)
    assert [(lever.measure, lever.target, lever.target_band) for lever in levers] == [
        ("support_tickets", "below 2", "Green"),
        ("feature_adoption", "at least 0.4", "Yellow"),
        ("active_users", "at least 0.8", "Green"),
        ("csat", "at least 8", "Green"),
    ]
    # Engagement holds only the ticket measure and weighs 30 of the 80 present: +30 points there.
    assert math.isclose(levers[0].points, 30 * 30 / 80)
    text = score.explain()
    assert "What would move it:" in text
    assert "+11.25  support_tickets: tickets_per_month from 3.2 to below 2 (Green)" in text


def single_measure_scorecard() -> Scorecard:
    """Points equal the value (0-100) so that tests can aim at any score."""
    return Scorecard(
        id="edge",
        version=1,
        name="Edge",
        dimensions=(
            Dimension(
                name="Only",
                weight=100,
                measures=(
                    Measure(
                        name="x",
                        metric="usage_trend",
                        weight=100,
                        scale=LinearScale(worst=0, best=100),
                    ),
                ),
            ),
        ),
        tiers=(Tier(name="Green", min=80), Tier(name="Yellow", min=60), Tier(name="Red", min=0)),
    )


@pytest.mark.parametrize(
    ("value", "score", "tier"),
    [
        (79.99, 79.99, "Yellow"),
        (80, 80, "Green"),
        (79.994, 79.99, "Yellow"),
        (79.995, 80, "Green"),  # rounds half up to the cent, then tiers on what is shown
        (59.99, 59.99, "Red"),
        (60, 60, "Yellow"),
        (0, 0, "Red"),
        (100, 100, "Green"),
    ],
)
def test_tier_edges_are_exact(value: float, score: float, tier: str) -> None:
    result = score_account(single_measure_scorecard(), {"usage_trend": value}, as_of=AS_OF)
    assert (result.score, result.tier) == (score, tier)


metric_values = st.one_of(
    st.none(), st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
)


def inputs_for(scorecard: Scorecard) -> st.SearchStrategy[dict[str, float | None]]:
    return st.fixed_dictionaries(dict.fromkeys(sorted(scorecard.metrics), metric_values))


@pytest.mark.parametrize("scorecard_id", sorted(SCORECARDS))
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_scores_stay_between_0_and_100(scorecard_id: str, data: st.DataObject) -> None:
    scorecard = SCORECARDS[scorecard_id]
    score = score_account(scorecard, data.draw(inputs_for(scorecard)), as_of=AS_OF)
    if score.score is not None:
        assert 0 <= score.score <= 100
        assert score.tier == scorecard.tier_for(score.score)
        assert math.isclose(
            sum(m.contribution for m in score.measures), score.score, abs_tol=0.0051
        )
        assert math.isclose(sum(d.effective_weight for d in score.dimensions), 1)


@pytest.mark.parametrize("scorecard_id", sorted(SCORECARDS))
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_a_better_input_never_lowers_the_score(scorecard_id: str, data: st.DataObject) -> None:
    scorecard = SCORECARDS[scorecard_id]
    values = data.draw(inputs_for(scorecard))
    metric = data.draw(st.sampled_from(sorted(scorecard.metrics)))
    step = data.draw(st.floats(min_value=0, max_value=1e3, allow_nan=False))
    current = values[metric]
    if current is None:
        return
    better = current + step if DIRECTIONS[metric] is Direction.HIGHER_IS_BETTER else current - step
    before = score_account(scorecard, values, as_of=AS_OF).score
    after = score_account(scorecard, {**values, metric: better}, as_of=AS_OF).score
    assert before is not None
    assert after is not None
    assert after >= before


@pytest.mark.parametrize("scorecard_id", sorted(SCORECARDS))
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_renormalisation_is_exact(scorecard_id: str, data: st.DataObject) -> None:
    # When every measure that has data scores the same points, skipping the others must give
    # exactly those points, whatever the weights that were shared out.
    scorecard = SCORECARDS[scorecard_id].model_copy()
    points = data.draw(st.sampled_from([0.0, 25.0, 50.0, 100.0]))
    kept = data.draw(st.sets(st.sampled_from([m.name for m in scorecard.measures]), min_size=1))
    everything = {"range": "(-inf, inf)", "points": points}
    uniform = Scorecard.model_validate(
        {
            **scorecard.model_dump(),
            "dimensions": [
                {
                    **dimension.model_dump(),
                    "measures": [
                        {
                            **measure.model_dump(),
                            "missing": "skip",
                            "scale": {"kind": "bands", "bands": [everything]},
                        }
                        for measure in dimension.measures
                    ],
                }
                for dimension in scorecard.dimensions
            ],
        }
    )
    values = {m.metric: 1.0 for m in uniform.measures if m.name in kept}
    assert score_account(uniform, values, as_of=AS_OF).score == points
