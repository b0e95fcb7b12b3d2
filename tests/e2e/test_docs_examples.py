"""The documentation's examples are real programs: run each and check what it prints."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from click.testing import CliRunner

from cs_core import plugin_manager
from cs_core._cli import build_cli

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"

EXPECTED = {
    "quickstart.py": [
        "{'account': 1, 'contact': 1}",
        "Acme Corp mid_market 84000.00 ['dana@acme.example.com']",
    ],
    "identity.py": ["crm 001 1 origin", "hubspot 5120 1 email_domain", "1 email_domain"],
    "outbox.py": ["1 health.changed {'from': 74, 'to': 58, 'tier': 'red'}"],
    "scoring.py": [
        "70.23 Yellow",
        "+11.25 support_tickets: tickets_per_month to below 2",
        "+6.60 feature_adoption: feature_adoption to at least 0.4",
        "+5.10 active_users: active_user_ratio to at least 0.8",
    ],
}


def test_every_example_is_checked() -> None:
    # The plugin examples have no output of their own: tests load them as plugins (in
    # tests/cs_core: test_metric_plugins.py, test_actions.py, test_connector_example.py).
    plugins = {"action_plugin.py", "command_plugin.py", "connector_plugin.py", "metric_plugin.py"}
    assert {path.name for path in EXAMPLES.glob("*.py")} == {*EXPECTED, *plugins}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_prints_what_the_docs_say(name: str, tmp_path: Path) -> None:
    environment = os.environ | {"CS_DATABASE_URL": f"sqlite:///{tmp_path / 'cs.db'}"}
    finished = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.splitlines() == EXPECTED[name]


def test_the_command_plugin_example_adds_a_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, docs_example: Callable[[str], ModuleType]
) -> None:
    monkeypatch.setenv("CS_DATABASE_URL", f"sqlite:///{tmp_path / 'cs.db'}")
    manager = plugin_manager(load_entry_points=False)
    manager.register(docs_example("command_plugin.py"), name="example")
    cli = build_cli(manager)
    runner = CliRunner()
    assert runner.invoke(cli, ["demo", "--no-serve", "--accounts", "10", "--json"]).exit_code == 0
    result = runner.invoke(cli, ["accounts", "--segment", "enterprise"])
    assert result.exit_code == 0, result.output
    assert result.output == "2 accounts\n"
