"""How fast a full scoring run is, against the floor of writing as many score rows in bulk.

Fills a fresh SQLite store with the demo base (not timed), then times a full `score_all` run:
metrics computed from the store, every account scored, scores, history and events written.
The baseline, in the same run and store, is writing the same number of score rows with one
plain bulk INSERT per 1,000 rows. Each size runs in a fresh process, so peak memory is its own.

    python bench/scoring.py [--accounts 1000 5000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import delete, insert, select

from cs_core import (
    Account,
    DemoOptions,
    HealthHistory,
    HealthScoreRow,
    Store,
    load_demo,
    score_all,
)

AS_OF = date(2026, 11, 1)


def measure(accounts: int) -> dict[str, float | int]:
    with (
        tempfile.TemporaryDirectory() as folder,
        Store(f"sqlite:///{Path(folder) / 'b.db'}") as store,
    ):
        store.upgrade()
        load_demo(store, DemoOptions(accounts=accounts, as_of=AS_OF))
        moment = datetime(AS_OF.year, AS_OF.month, AS_OF.day, tzinfo=UTC)
        run = score_all(store, as_of=moment)
        baseline = bulk_insert_baseline(store, moment, run.run_id)
        return {
            "accounts": accounts,
            "run_seconds": round(run.seconds, 3),
            "accounts_per_second": round(run.accounts_per_second),
            "baseline_seconds": round(baseline, 3),
            "baseline_rows_per_second": round(accounts / baseline),
            "ratio_to_baseline": round(run.seconds / baseline, 1),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }


def bulk_insert_baseline(store: Store, moment: datetime, run_id: int) -> float:
    """Seconds to write one plain score row per account, 1,000 rows per statement."""
    with store.transaction() as session:
        ids = list(session.scalars(select(Account.id)))
        session.execute(delete(HealthHistory))
        session.execute(delete(HealthScoreRow))
    started = time.perf_counter()
    with store.transaction() as session:
        for first in range(0, len(ids), 1000):
            session.execute(
                insert(HealthScoreRow),
                [
                    {
                        "account_id": account_id,
                        "scorecard_id": "sop",
                        "scorecard_version": 1,
                        "scorecard_fingerprint": "baseline",
                        "score": 50.0,
                        "tier": "Red",
                        "measures": {},
                        "as_of": moment,
                        "run_id": run_id,
                    }
                    for account_id in ids[first : first + 1000]
                ],
            )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        print(json.dumps(measure(arguments.child)))
        return
    runs = []
    for size in arguments.accounts:
        finished = subprocess.run(
            [sys.executable, __file__, "--child", str(size)],
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(json.loads(finished.stdout.splitlines()[-1]))
        run = runs[-1]
        print(
            f"{run['accounts']:>8} accounts: {run['accounts_per_second']:>7} accounts/s, "
            f"{run['ratio_to_baseline']}x the bulk-insert baseline, peak {run['peak_rss_mib']} MiB"
        )
    print(
        json.dumps(
            {
                "benchmark": "scoring",
                "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                f"Python {platform.python_version()}",
                "dialect": "sqlite",
                "runs": runs,
                "target_accounts_per_second": 50_000,
            }
        )
    )


if __name__ == "__main__":
    main()
