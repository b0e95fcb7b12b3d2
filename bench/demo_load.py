"""How fast the demo generator fills a store through the bulk paths, and in how much memory.

Loads the demo base at two sizes into fresh stores and reports throughput and the peak of
Python allocations (tracemalloc). Streaming means the peak does not grow with the number of
accounts. Runs on SQLite, and on PostgreSQL too when ``CS_BENCH_POSTGRES_URL`` is set.

    python bench/demo_load.py [--accounts 500 5000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
import tracemalloc
import uuid
from datetime import date
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from cs_core import DemoOptions, Store, generate_demo, load_demo

AS_OF = date(2026, 11, 1)


def measure(store: Store, accounts: int) -> dict[str, float | int]:
    store.upgrade()
    tracemalloc.start()
    started = time.perf_counter()
    summary = load_demo(store, DemoOptions(accounts=accounts, as_of=AS_OF))
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    records = sum(summary.written.values())
    return {
        "accounts": accounts,
        "records": records,
        "seconds": round(seconds, 2),
        "accounts_per_second": round(accounts / seconds, 1),
        "records_per_second": round(records / seconds),
        "peak_python_mib": round(peak / 2**20, 1),
    }


def generation_only(accounts: int) -> dict[str, float]:
    started = time.perf_counter()
    records = sum(
        len(chunk.records) + len(chunk.usage)
        for chunk in generate_demo(DemoOptions(accounts=accounts, as_of=AS_OF))
    )
    seconds = time.perf_counter() - started
    return {"records_per_second": round(records / seconds), "seconds": round(seconds, 2)}


def on_sqlite(accounts: int) -> dict[str, float | int]:
    with (
        tempfile.TemporaryDirectory() as folder,
        Store(f"sqlite:///{Path(folder) / 'b.db'}") as store,
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, nargs="+", default=[500, 5000])
    sizes = parser.parse_args().accounts
    result: dict[str, object] = {
        "benchmark": "demo_load",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "generation_only": generation_only(sizes[0]),
        "sqlite": [on_sqlite(size) for size in sizes],
    }
    postgres = os.environ.get("CS_BENCH_POSTGRES_URL")
    if postgres:
        result["postgresql"] = [on_postgres(postgres, size) for size in sizes]
    for run in result["sqlite"]:  # type: ignore[attr-defined]
        print(f"sqlite {run['accounts']:>7} accounts: {run['accounts_per_second']} accounts/s")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
