"""The README's first command, `cs demo`, as a user runs it: a real process on a real file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from sqlalchemy import func, select

from cs_core import Account, HealthScoreRow, Store, UsageDaily


def test_cs_demo_creates_fills_and_scores_the_default_store(tmp_path: Path) -> None:
    executable = shutil.which("cs")
    assert executable, "the cs command is not installed"
    environment = {key: value for key, value in os.environ.items() if key != "CS_DATABASE_URL"} | {
        "XDG_DATA_HOME": str(tmp_path)
    }
    finished = subprocess.run(
        [executable, "demo", "--accounts", "40", "--json"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    report = json.loads(finished.stdout)
    assert report["scoring"]["accounts"] == 40
    assert sum(report["scoring"]["tiers"].values()) == 40
    database = tmp_path / "cs" / "cs.db"
    assert database.is_file()
    assert str(database) in report["database"]
    with Store(f"sqlite:///{database}") as store, store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Account)) == 40
        days = session.scalar(select(func.count(UsageDaily.day.distinct())))
        assert days == report["history_days"] == 120
        assert session.scalar(select(func.count()).select_from(HealthScoreRow)) == 40
