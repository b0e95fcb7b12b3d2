"""``cs sla``, ``cs kpis``, ``cs portfolio`` and ``cs renewals`` on a demo store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cs_core._cli import main

from .conftest import run_cs as run


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('ops') / 'cli.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CS_DATABASE_URL", url)
        try:
            main(
                [
                    "demo",
                    "--no-serve",
                    "--accounts",
                    "60",
                    "--seed",
                    "5",
                    "--as-of",
                    "2026-10-31",
                    "--json",
                ]
            )
        except SystemExit as exit_:
            if exit_.code:
                pytest.fail(f"cs demo exited with {exit_.code}")
    return url


@pytest.fixture
def database(demo_store: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("CS_DATABASE_URL", demo_store)
    return demo_store


def test_sla_records_escalations_once(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "sla", "--as-of", "2026-10-31", "--json")
    first = json.loads(out)
    assert code == 0
    assert [row["priority"] for row in first["priorities"]] == ["p1", "p2", "p3", "p4"]
    assert sum(row["tickets"] for row in first["priorities"]) > 0
    assert first["escalations_recorded"] > 0
    code, out, _ = run(capsys, "sla", "--as-of", "2026-10-31", "--json")
    assert json.loads(out)["escalations_recorded"] == 0
    code, out, _ = run(capsys, "sla", "--as-of", "2026-10-31")
    assert "0 new escalations recorded" in out


def test_kpis_for_a_period_and_by_segment(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "kpis", "--period", "2026-01-01..2026-10-31", "--json")
    (report,) = json.loads(out)
    assert code == 0
    assert report["period"] == "2026-01-01..2026-10-31"
    assert report["starting_accounts"] > 0
    assert 0 <= report["grr"] <= 1
    code, out, _ = run(capsys, "kpis", "--period", "2026", "--by", "segment", "--json")
    segments = [report["segment"] for report in json.loads(out)]
    assert segments == sorted(segments)
    assert set(segments) <= {"enterprise", "mid_market", "smb", "plg"}
    code, out, _ = run(capsys, "kpis", "--period", "2026-Q3", "--segment", "smb")
    assert code == 0
    assert "KPIs of 2026-Q3 (2026-07-01 to 2026-09-30), segment smb" in " ".join(out.split())
    assert "GRR" in out


def test_a_bad_period_is_one_line(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "kpis", "--period", "Q3")
    assert (code, err.strip()) == (
        1, "error: period 'Q3' is not a period: give 2026-Q3, 2026-07, 2026 or "
        "2026-07-01..2026-09-30",
    )  # fmt: skip


def test_portfolio(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "portfolio", "--as-of", "2026-10-31", "--json")
    rows = json.loads(out)
    assert code == 0
    assert sum(row["accounts"] for row in rows) > 0
    assert all(row["workload"] == row["open_tasks"] + row["escalated_tickets"] for row in rows)
    assert sum(row["open_tasks"] for row in rows) > 0  # the demo ran the playbooks


def test_renewals_forecast_and_pipeline(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "renewals", "--within", "26w", "--as-of", "2026-10-31", "--json")
    upcoming = json.loads(out)
    assert code == 0
    assert upcoming
    assert all(0 <= r["days_to_renewal"] <= 182 for r in upcoming)
    assert [r["renewal_date"] for r in upcoming] == sorted(r["renewal_date"] for r in upcoming)
    code, out, _ = run(capsys, "renewals", "forecast", "--period", "2027-Q1", "--json")
    forecast = json.loads(out)
    assert forecast["period"] == "2027-Q1"
    assert forecast["accuracy"] is None
    code, out, _ = run(capsys, "renewals", "pipeline", "--as-of", "2026-10-31")
    assert code == 0
    assert "in open expansion opportunities" in out
    code, _, err = run(capsys, "renewals", "--within", "soon")
    assert (code, err.strip()) == (
        1, "error: --within 'soon' is not a duration: give a number and a unit, as 30m, 4h, 3d "
        "or 2w",
    )  # fmt: skip


def test_policies_change_the_slas(
    database: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lenient = tmp_path / "policies.toml"
    targets = 'first_response = "60w"\nresolution = "60w"\n'
    lenient.write_text("".join(f"[support.sla.{p}]\n{targets}" for p in ("p1", "p2", "p3", "p4")))
    monkeypatch.setenv("CS_POLICIES", str(lenient))
    code, out, _ = run(capsys, "sla", "--as-of", "2026-10-31", "--json")
    assert code == 0
    assert all(row["response_breaches"] == 0 for row in json.loads(out)["priorities"])
    monkeypatch.setenv("CS_POLICIES", str(tmp_path / "missing.toml"))
    code, _, err = run(capsys, "sla", "--json")
    assert code == 1
    assert "missing.toml does not exist" in err


def test_lifecycle_from_the_command_line(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "lifecycle", "--as-of", "2026-10-31", "--json")
    report = json.loads(out)
    assert code == 0
    assert report["changed"] == 0  # cs demo evaluated it already
    assert sum(report["stages"].values()) == report["accounts"] == 60
    assert set(report["time_to_value"]) == {"enterprise", "mid_market", "smb", "plg"}


def test_playbooks_from_the_command_line(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "playbooks", "list", "--json")
    assert code == 0
    assert "red-save" in {playbook["name"] for playbook in json.loads(out)}
    # cs demo ran the playbooks: a second run of the day finds nothing new.
    code, out, _ = run(capsys, "playbooks", "run", "--as-of", "2026-10-31", "--json")
    again = json.loads(out)
    assert (again["fired"], again["tasks_created"], again["actions_failed"]) == (0, 0, 0)
    code, out, _ = run(capsys, "playbooks", "run", "--dry-run", "--as-of", "2026-10-31", "--json")
    dry = json.loads(out)
    assert (dry["dry_run"], dry["run_id"], dry["fired"]) == (True, None, 0)
    code, out, _ = run(capsys, "playbooks", "runs", "--json")
    assert [r["fired"] > 0 for r in json.loads(out)][-1]  # the demo's run, the oldest
    code, out, _ = run(capsys, "playbooks", "preview", "renewal-forecast", "--as-of", "2027-03-01")
    assert code == 0
    assert "hits would fire" in out
    code, out, _ = run(capsys, "playbooks", "actions", "--json", "--limit", "5")
    assert len(json.loads(out)) == 5
    code, out, _ = run(capsys, "playbooks", "effectiveness", "--json")
    assert all(e["fired"] >= e["judged"] >= e["worked"] for e in json.loads(out))
    code, _, err = run(capsys, "playbooks", "preview", "nope")
    assert code == 1
    assert err.startswith("error: no playbook 'nope'; known: ")


def test_tasks_from_the_command_line(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "tasks", "--json", "--limit", "3")
    found = json.loads(out)
    assert code == 0
    assert len(found) == 3
    assert [t["due_on"] for t in found] == sorted(t["due_on"] for t in found)
    first = found[0]["id"]
    code, out, _ = run(capsys, "tasks", "reassign", str(first), "--to", "zoe@cs.example.com")
    assert out.strip() == f"Task {first} now with zoe@cs.example.com"
    code, out, _ = run(capsys, "tasks", "complete", str(first), "--by", "zoe@cs.example.com")
    assert out.startswith(f"Task {first} done: ")
    code, _, err = run(capsys, "tasks", "complete", str(first), "--by", "zoe@cs.example.com")
    assert (code, err.strip()) == (1, f"error: task {first} is already done")
    code, out, _ = run(capsys, "tasks", "--owner", "zoe@cs.example.com", "--json")
    assert json.loads(out) == []
