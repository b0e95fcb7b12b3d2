"""How fast the sync engine stores what connectors read, against the client library alone.

Serves 100,000 Zendesk tickets and 100,000 Salesforce accounts from the local fakes (Zendesk
over HTTP, Salesforce over TLS, on loopback), each in a process of its own as a real service
would be: in this one, its page rendering would compete with the sync for the interpreter.
For each, in one run:

* the baseline: the same client library, configured by the connector, reading the same pages
  in a bare loop and discarding them;
* the sync: ``sync()`` of that stream into a fresh SQLite store (records validated, tied to
  their accounts, upserted, a checkpoint committed with every page).

The ratio is sync records/s over baseline records/s: 1.0 would mean the engine costs nothing
beyond reading. The Zendesk organizations the tickets belong to are synced first, untimed.

    python bench/sync.py [--tickets 100000] [--accounts 100000]
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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cs_connectors import SalesforceConnector, SalesforceSettings, ZendeskConnector, ZendeskSettings
from cs_core import Connector, Store, sync

# Runs in the fake's process: serve, say where, and stop when the benchmark closes stdin.
_SERVE = """
import json, sys
from cs_fakes.{module} import {fake}
service = {fake}(**json.loads(sys.argv[1]))
with service.running() as url:
    print(json.dumps({{"url": url, "ca_bundle": str(service.ca_bundle or ""),
                      "credentials": {credentials}}}), flush=True)
    sys.stdin.read()
"""


@contextmanager
def served(module: str, fake: str, credentials: str, **options: int) -> Iterator[dict[str, Any]]:
    """A fake service in a process of its own; yields its URL, CA bundle and credentials."""
    script = _SERVE.format(module=module, fake=fake, credentials=credentials)
    process = subprocess.Popen(
        [sys.executable, "-c", script, json.dumps(options)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdin is not None
    assert process.stdout is not None
    try:
        yield json.loads(process.stdout.readline())
    finally:
        process.stdin.close()
        process.wait(timeout=30)


@contextmanager
def fresh_store() -> Iterator[Store]:
    with (
        tempfile.TemporaryDirectory() as folder,
        Store(f"sqlite:///{Path(folder) / 'bench.db'}") as store,
    ):
        store.upgrade()
        yield store


def compare(
    what: str, connector: Connector, stream: str, bare_loop: Callable[[], int], store: Store
) -> dict[str, Any]:
    """Time the bare loop, then the sync of the same stream, and relate them."""
    began = time.perf_counter()
    baseline = bare_loop()
    baseline_seconds = time.perf_counter() - began
    began = time.perf_counter()
    (report,) = sync(store, connector, streams=[stream]).streams
    seconds = time.perf_counter() - began
    if report.status != "succeeded" or report.read != baseline:
        raise RuntimeError(f"{what}: the sync read {report.read} of {baseline}: {report.error}")
    sync_rate, baseline_rate = report.read / seconds, baseline / baseline_seconds
    return {
        "records": report.read,
        "written": report.written,
        "sync_seconds": round(seconds, 2),
        "records_per_second": round(sync_rate),
        "baseline_seconds": round(baseline_seconds, 2),
        "baseline_records_per_second": round(baseline_rate),
        "ratio_to_baseline": round(sync_rate / baseline_rate, 3),
    }


def zendesk(tickets: int) -> dict[str, Any]:
    credentials = '{"email": service.staff_email(1), "token": service.token}'
    options = {"organizations": 1000, "users": 1000, "tickets": tickets, "page_size": 1000}
    with served("zendesk", "FakeZendesk", credentials, **options) as fake, fresh_store() as store:
        connector = ZendeskConnector(
            ZendeskSettings(subdomain="bench", base_url=fake["url"], **fake["credentials"])
        )

        def bare_loop() -> int:
            records, cursor = 0, None
            while True:
                page = connector.client.export("tickets", cursor, "metric_sets")
                records += len(page["tickets"])
                cursor = page["after_cursor"]
                if page["end_of_stream"]:
                    return records

        sync(store, connector, streams=["organizations"])
        return compare("zendesk tickets", connector, "tickets", bare_loop, store)


def salesforce(accounts: int) -> dict[str, Any]:
    credentials = '{"session_id": service.session_id}'
    options = {"accounts": accounts, "contacts": 0, "opportunities": 0, "contracts": 0}
    with (
        served("salesforce", "FakeSalesforce", credentials, **options) as fake,
        fresh_store() as store,
    ):
        connector = SalesforceConnector(
            SalesforceSettings(
                instance_url=fake["url"], ca_bundle=fake["ca_bundle"], **fake["credentials"]
            )
        )
        (accounts_stream,) = [s for s in connector.streams() if s.name == "accounts"]
        soql: str = accounts_stream.soql(None)  # type: ignore[attr-defined]

        def bare_loop() -> int:
            client = connector.client()
            page = client.query(soql, include_deleted=True)
            records = len(page["records"])
            while not page["done"]:
                page = client.query_more(page["nextRecordsUrl"], identifier_is_url=True)
                records += len(page["records"])
            return records

        return compare("salesforce accounts", connector, "accounts", bare_loop, store)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--accounts", type=int, default=100_000)
    arguments = parser.parse_args()
    # requests prefers these to a session's own CA bundle; the fakes bring their own CA.
    for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        os.environ.pop(variable, None)
    results = {"zendesk": zendesk(arguments.tickets), "salesforce": salesforce(arguments.accounts)}
    for name, figures in results.items():
        print(f"{name}: {figures['records']:,} records in {figures['sync_seconds']} s = "
              f"{figures['records_per_second']:,}/s; bare client "
              f"{figures['baseline_records_per_second']:,}/s; ratio "
              f"{figures['ratio_to_baseline']}")  # fmt: skip
    print(json.dumps({
        "benchmark": "sync",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
                   f"{platform.python_version()}, SQLite",
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "targets": {"records_per_second": 10_000, "ratio_to_baseline": 0.6},
        **results,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
