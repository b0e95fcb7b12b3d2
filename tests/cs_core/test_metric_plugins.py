"""Third-party metrics arrive through the plugin hook and score like built-in ones."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import ModuleType

import pytest
from sqlalchemy import select

from cs_core import (
    AccountRecord,
    ConfigurationError,
    Direction,
    HealthScoreRow,
    MetricDefinition,
    RegisterMetric,
    Scorecard,
    ScorecardRule,
    ScorecardRules,
    Store,
    TicketRecord,
    hookimpl,
    metric_registry,
    plugin_manager,
    score_all,
)

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
QUEUE_CARD = """
id = "queue"
version = 1
name = "Support queue"
tiers = [{ name = "Clear", min = 50 }, { name = "Backlog", min = 0 }]

[[dimensions]]
name = "Support"
weight = 100

  [[dimensions.measures]]
  name = "open"
  metric = "open_tickets"
  weight = 100
  scale = { kind = "linear", worst = 4, best = 0 }
"""


def test_a_plugin_metric_is_scored_like_a_builtin(
    store: Store, docs_example: Callable[[str], ModuleType]
) -> None:
    manager = plugin_manager(load_entry_points=False)
    manager.register(docs_example("metric_plugin.py"), name="example")
    registry = metric_registry(manager)
    assert registry.owners["open_tickets"] == "example"
    assert registry.owners["nps"] == "cs_core.metrics"
    card = Scorecard.from_toml(QUEUE_CARD, catalogue=registry.catalogue)
    store.write(
        [AccountRecord(source="crm", external_id="A", name="A", segment="smb")]
        + [
            TicketRecord(source="crm", external_id=f"T{n}", account_external_id="A",
                         priority="p3", status="open", opened_at=AS_OF - timedelta(days=n + 1))
            for n in range(3)
        ]
    )  # fmt: skip
    score_all(
        store,
        as_of=AS_OF,
        scorecards={"queue": card},
        rules=ScorecardRules(rules=(ScorecardRule(scorecard="queue"),)),
        metrics=registry,
    )
    with store.transaction() as session:
        row = session.scalars(select(HealthScoreRow)).one()
    # Three open tickets on a line from 4 (0 points) to 0 (100 points).
    assert (row.score, row.tier, row.measures["open"]) == (25, "Backlog", [3.0, 25.0])


def test_a_scorecard_reading_an_uninstalled_metric_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="unknown metrics: open reads 'open_tickets'"):
        Scorecard.from_toml(QUEUE_CARD)


class Clash:
    @hookimpl
    def cs_register_metrics(self, register: RegisterMetric) -> None:
        definition = MetricDefinition("nps", "Another NPS", "score", Direction.HIGHER_IS_BETTER)
        register(definition, lambda session, accounts, as_of: {})


def test_two_plugins_registering_one_metric_are_both_named() -> None:
    manager = plugin_manager(load_entry_points=False)
    manager.register(Clash(), name="clash")
    with pytest.raises(ConfigurationError, match=r"'cs_core\.metrics' and 'clash' both provide"):
        metric_registry(manager)


def test_declared_metrics_without_a_provider_are_known_but_missing() -> None:
    registry = metric_registry(plugin_manager(load_entry_points=False))
    assert registry.without_provider == {
        "qbr_attended",
        "outreach_response_hours",
        "goals_met",
        "roi_achieved",
        "payment_overdue_days",
    }
    assert "qbr_attended" in registry.catalogue
