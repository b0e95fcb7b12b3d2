"""How fast the demo generator fills a store through the bulk paths, and in how much memory.

Loads the demo base at several sizes, each into a fresh store in a fresh process, and reports
throughput and the process's peak resident memory. Streaming means the peak does not grow with
the number of accounts. Runs on SQLite, and on PostgreSQL too when ``CS_BENCH_POSTGRES_URL`` is
set (a throwaway database is created there and dropped).

    python bench/demo_load.py [--accounts 500 5000]
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
import uuid
from datetime import date
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from cs_core import DemoOptions, Store, generate_demo, load_demo

AS_OF = date(2026, 11, 1)


def measure(store: Store, accounts: int) -> dict[str, float | int]:
    store.upgrade()
    started = time.perf_counter()
    summary = load_demo(store, DemoOptions(accounts=accounts, as_of=AS_OF))
    seconds = time.perf_counter() - started
    records = sum(summary.written.values())
    return {
        "accounts": accounts,
        "records": records,
        "seconds": round(seconds, 2),
        "accounts_per_second": round(accounts / seconds, 1),
        "records_per_second": round(records / seconds),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def on_sqlite(accounts: int) -> dict[str, float | int]:
    with (
        tempfile.TemporaryDirectory() as folder,
        Store(f"sqlite:///{Path(folder) / 'bench.db'}") as store,
    ):
        return measure(store, accounts)


def on_postgres(url: str, accounts: int) -> dict[str, float | int]:
    server = make_url(url).set(drivername="postgresql+psycopg")
    name = f"cs_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        with Store(server.set(database=name)) as store:
            return measure(store, accounts)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def generation_only(accounts: int) -> dict[str, float]:
    started = time.perf_counter()
    records = sum(
        len(chunk.records) + len(chunk.usage)
        for chunk in generate_demo(DemoOptions(accounts=accounts, as_of=AS_OF))
    )
    seconds = time.perf_counter() - started
    return {
        "accounts": accounts,
        "records_per_second": round(records / seconds),
        "seconds": round(seconds, 2),
    }


def in_child(dialect: str, accounts: int) -> dict[str, float | int]:
    """One measurement in a fresh process, so that its peak memory is its own."""
    finished = subprocess.run(
        [sys.executable, __file__, "--child", dialect, str(accounts)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float | int] = json.loads(finished.stdout.splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, nargs="+", default=[500, 5000])
    parser.add_argument("--child", nargs=2, metavar=("DIALECT", "ACCOUNTS"), help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    postgres = os.environ.get("CS_BENCH_POSTGRES_URL")
    if arguments.child:
        dialect, accounts = arguments.child[0], int(arguments.child[1])
        measured = (
            on_sqlite(accounts) if dialect == "sqlite" else on_postgres(str(postgres), accounts)
        )
        print(json.dumps(measured))
        return
    result: dict[str, object] = {
        "benchmark": "demo_load",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "generation_only": generation_only(arguments.accounts[0]),
    }
    for dialect in ["sqlite", "postgresql"] if postgres else ["sqlite"]:
        runs = [in_child(dialect, size) for size in arguments.accounts]
        for run in runs:
            print(
                f"{dialect:>10} {run['accounts']:>8} accounts: {run['accounts_per_second']:>7} "
                f"accounts/s, {run['records_per_second']:>7} records/s, "
                f"peak {run['peak_rss_mib']} MiB"
            )
        result[dialect] = runs
    print(json.dumps(result))


if __name__ == "__main__":
    main()
