"""The ``cs`` command: its commands, JSON output, one-line errors and the command hook."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from cs_core import Store, hookimpl, plugin_manager
from cs_core._cli import build_cli

from .conftest import run_cs as run


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("CS_DATABASE_URL", url)
    return url


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--version")
    assert code == 0
    assert out.startswith("cs, version ")


def test_db_upgrade_current_downgrade(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "db", "current", "--json")
    assert (code, json.loads(out)["current"]) == (0, None)
    code, out, _ = run(capsys, "db", "upgrade")
    assert code == 0
    assert "up to date" in out
    code, out, _ = run(capsys, "db", "current", "--json")
    head = Store.head_revision()
    assert json.loads(out) | {"database": "-"} == {
        "database": "-",
        "current": head,
        "head": head,
        "up_to_date": True,
    }
    code, out, _ = run(capsys, "db", "downgrade", "base")
    assert code == 0
    assert "downgraded to base" in out


def test_downgrade_needs_an_explicit_revision(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "db", "downgrade")
    assert code == 2
    assert "Missing argument 'REVISION'" in err


def test_demo_fills_the_store_and_reports_json(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys,
        "demo",
        "--no-serve",
        "--accounts",
        "12",
        "--seed",
        "3",
        "--as-of",
        "2026-06-30",
        "--json",
    )
    assert code == 0
    report = json.loads(out)
    assert report["written"]["account"] == 12
    assert report["as_of"] == "2026-06-30"
    assert report["seed"] == 3
    assert sum(report["segments"].values()) == 12


def test_demo_prints_a_readable_summary(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "demo", "--no-serve", "--accounts", "5")
    assert code == 0
    assert "Demo customer base written to" in out
    assert "usage day" in out


@pytest.mark.parametrize(
    ("env", "args", "message"),
    [
        ("mysql://root@localhost/cs", ["db", "current"], "error: CS_DATABASE_URL uses 'mysql'"),
        (
            None,
            ["db", "upgrade", "no-such-revision"],
            "error: cannot migrate to 'no-such-revision'",
        ),
    ],
)
def test_errors_are_one_line_not_a_traceback(
    database: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: str | None,
    args: list[str],
    message: str,
) -> None:
    if env:
        monkeypatch.setenv("CS_DATABASE_URL", env)
    code, out, err = run(capsys, *args)
    assert code == 1
    assert out == ""
    assert err.startswith(message)
    assert len(err.strip().splitlines()) == 1


def test_the_database_url_option_wins_over_the_environment(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other.db"
    code, out, _ = run(capsys, "--database-url", f"sqlite:///{other}", "db", "current", "--json")
    assert code == 0
    assert str(other) in json.loads(out)["database"]


class GreeterPlugin:
    @hookimpl
    def cs_register_commands(self, register: object) -> None:
        @click.command()
        def hello() -> None:
            """Say hello."""
            click.echo("hello from a plugin")

        register(hello)  # type: ignore[operator]


class ClashingPlugin:
    @hookimpl
    def cs_register_commands(self, register: object) -> None:
        register(click.Command("demo"))  # type: ignore[operator]


def test_plugins_add_commands_through_the_hook() -> None:
    manager = plugin_manager(load_entry_points=False)
    manager.register(GreeterPlugin(), name="greeter")
    result = CliRunner().invoke(build_cli(manager), ["hello"])
    assert result.output == "hello from a plugin\n"


def test_two_plugins_claiming_one_command_name_are_both_named() -> None:
    manager = plugin_manager(load_entry_points=False)
    manager.register(ClashingPlugin(), name="clasher")
    with pytest.raises(
        Exception, match="'cs_core' and 'clasher' both register the command 'cs demo'"
    ):
        build_cli(manager)


def test_disabled_plugins_are_not_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CS_DISABLE_PLUGINS", "greeter, other")
    manager = plugin_manager(load_entry_points=False)
    assert manager.is_blocked("greeter")
    assert manager.register(GreeterPlugin(), name="greeter") is None


def test_cs_plugins_lists_what_each_plugin_registers(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "plugins", "--json")
    assert code == 0
    core = next(row for row in json.loads(out) if row["name"] == "cs_core")
    assert core["hooks"] == ["cs_register_commands"]
    assert core["package"] == "cs-core"


def test_score_and_explain(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "demo", "--no-serve", "--accounts", "15", "--as-of", "2026-10-31", "--json"
    )
    demo_scoring = json.loads(out)["scoring"]
    assert (demo_scoring["accounts"], demo_scoring["changed"]) == (15, 15)
    assert demo_scoring["events"] == 15 + demo_scoring["signals_opened"]
    assert demo_scoring["as_of"] == "2026-10-31T00:00:00+00:00"
    code, out, _ = run(capsys, "score", "--as-of", "2026-11-01", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["accounts"] == 15
    assert report["as_of"] == "2026-11-01T00:00:00+00:00"
    code, out, _ = run(capsys, "score", "--as-of", "2026-11-01")
    assert code == 0
    assert "Scored 15 accounts (full run)" in out
    assert "0 changed, 0 signals opened, 0 events" in out
    code, out, _ = run(capsys, "explain", "acct-0000003", "--as-of", "2026-11-01")
    assert code == 0
    assert out.startswith("Health ")
    assert "as of 2026-11-01T00:00:00+00:00" in out
    code, out, _ = run(capsys, "explain", "acct-0000003", "--as-of", "2026-11-01", "--json")
    assert json.loads(out)["account"] == "demo:acct-0000003"


def test_scoring_an_unmigrated_store_says_how_to_fix_it(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "score")
    assert code == 1
    assert "run `cs db upgrade`" in err
    run(capsys, "db", "upgrade")
    code, _, err = run(capsys, "explain", "nobody")
    assert (code, err.strip()) == (1, "error: no account demo:nobody in the store")


def test_overrides_from_the_command_line(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "demo", "--no-serve", "--accounts", "5", "--json")
    code, out, _ = run(
        capsys, "override", "set", "acct-0000002", "--score", "88", "--reason", "Renewed",
        "--by", "ann", "--until", "2099-01-01",
    )  # fmt: skip
    assert code == 0
    assert out.startswith("demo:acct-0000002 now counts as 88 (Green) instead of ")
    assert out.strip().endswith("until 2099-01-01")
    code, out, _ = run(capsys, "override", "rates", "--json")
    assert json.loads(out) == [{"scorecard": "sop", "accounts": 5, "overridden": 1, "rate": 0.2}]
    assert run(capsys, "override", "clear", "acct-0000002", "--by", "ann")[0] == 0
    code, _, err = run(capsys, "override", "clear", "acct-0000002", "--by", "ann")
    assert (code, err.strip()) == (1, "error: demo:acct-0000002 has no override in force")


def test_backtest_from_the_command_line(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "demo", "--no-serve", "--accounts", "120", "--json")
    observed = (datetime.now(UTC).date() - timedelta(days=60)).isoformat()
    code, out, _ = run(capsys, "backtest", "--horizon", "60d", "--at", observed, "--json")
    assert code == 0
    report = json.loads(out)
    assert report["observation_dates"] == [observed]
    assert report["churned"] > 0
    assert report["auc"] > 0.6
    assert [tier["tier"] for tier in report["tiers"]] == ["Green", "Yellow", "Red"]
    code, out, _ = run(capsys, "backtest", "--horizon", "60d", "--at", observed)
    assert code == 0
    assert "ROC AUC" in out
    code, _, err = run(capsys, "backtest", "--horizon", "soon")
    assert (code, err.strip()) == (1, "error: horizon 'soon' is not a number of days such as 90d")
    code, _, err = run(capsys, "backtest", "--scorecard", "nope")
    assert code == 1
    assert err.startswith("error: no scorecard 'nope'; known: ")


def test_churn_model_fit_from_the_command_line(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "demo", "--no-serve", "--accounts", "150", "--json")
    observed = (datetime.now(UTC).date() - timedelta(days=60)).isoformat()
    code, out, _ = run(capsys, "churn-model", "fit", "--horizon", "60d", "--at", observed, "--json")
    assert code == 0
    model = json.loads(out)
    assert model["id"] == 1
    assert model["horizon_days"] == 60
    assert model["churned"] > 0
    assert len(model["coefficients"]) == len(model["features"])
    code, out, _ = run(capsys, "churn-model", "fit", "--horizon", "60d", "--at", observed)
    assert code == 0
    assert out.startswith("Churn model 2: ")
    assert "Calibration" in out
