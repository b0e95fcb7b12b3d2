"""The README's first command, `cs demo`, as a user runs it: a real process on a real file,
then serving the GraphQL API over it."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
from sqlalchemy import func, select

from cs_core import Account, HealthScoreRow, Store, UsageDaily


def test_cs_demo_creates_fills_and_scores_the_default_store(tmp_path: Path) -> None:
    executable = shutil.which("cs")
    assert executable, "the cs command is not installed"
    environment = {key: value for key, value in os.environ.items() if key != "CS_DATABASE_URL"} | {
        "XDG_DATA_HOME": str(tmp_path)
    }
    finished = subprocess.run(
        [executable, "demo", "--no-serve", "--accounts", "40", "--json"],
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


def test_cs_demo_serves_the_graphql_api_over_what_it_made(tmp_path: Path) -> None:
    executable = shutil.which("cs")
    assert executable, "the cs command is not installed"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {key: value for key, value in os.environ.items() if key != "CS_DATABASE_URL"} | {
        "XDG_DATA_HOME": str(tmp_path)
    }
    with subprocess.Popen(
        [executable, "demo", "--accounts", "30", "--port", str(port)],
        env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    ) as process:  # fmt: skip
        try:
            assert process.stderr is not None
            token = None
            for line in process.stderr:
                if found := re.search(r"Bearer (cs_[\w-]+)", line):
                    token = found.group(1)
                if f"http://127.0.0.1:{port}/graphql" in line:
                    break
            assert token, "cs demo printed no token"
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "the server did not come up"
                    time.sleep(0.2)
            answer = httpx.post(f"http://127.0.0.1:{port}/graphql",
                                json={"query": "{ accounts(first: 5) { totalCount } }"},
                                headers={"Authorization": f"Bearer {token}"})  # fmt: skip
            assert answer.json() == {"data": {"accounts": {"totalCount": 30}}}
        finally:
            process.terminate()
            process.wait(timeout=30)
