"""Score an account with a built-in scorecard and read why the score is what it is."""

from datetime import UTC, datetime

from cs_core import builtin_scorecards, score_account

sop = builtin_scorecards()["sop"]
health = score_account(
    sop,
    {
        "active_user_ratio": 0.62,
        "workflows_running": 4,
        "feature_adoption": 0.35,
        "tickets_per_month": 3.2,
        "nps": 9,
        "csat": 7.5,
    },
    as_of=datetime(2026, 11, 1, tzinfo=UTC),
)
print(health.score, health.tier)  # 70.23 Yellow: 70.225 rounds half up
for lever in health.levers():
    print(f"+{lever.points:.2f} {lever.measure}: {lever.metric} to {lever.target}")
# +11.25 support_tickets: tickets_per_month to below 2
# +6.60 feature_adoption: feature_adoption to at least 0.4
# +5.10 active_users: active_user_ratio to at least 0.8
