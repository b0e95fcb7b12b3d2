"""How fast the GraphQL server answers, against the floor of its own schema in-process, and how
soon subscribers hear of a committed health change.

Fills a fresh SQLite store with the demo base and scores it (not timed), then, in one run:

* the floor: ``await schema.execute(...)`` of cs-server's own ``schema()`` in this process, one
  query at a time, over the same SQLite file, warm (five untimed queries first, so the file is in
  the OS cache and the document in the parser cache); resolvers read the store in worker threads
  as they do in the server, each query with a fresh context as each request has. It leaves out
  what only a server does: HTTP, the token check, encoding the answer as JSON. Measured for a
  page of 100 accounts with health and its four dimensions, a page of 20, and the page of 100
  with measures.
* the server: ``cs serve --workers 2`` in a process of its own over that file, as users run it,
  asked for the same pages by 1, 8 and 32 concurrent clients of this process (httpx,
  keep-alive), each level warmed for a second and then timed: p50, p99, requests/s, and the CPU
  the workers and this client spent. Throughput is related to the floor by
  ``ratio = HTTP requests/s / (2 cores x 1000 / floor ms per query)``, at the best level.
* subscription latency: a ``healthChanged`` subscriber of a one-worker server process, speaking
  graphql-transport-ws over the ``websockets`` library (what uvicorn itself installs: gql is a
  test dependency, absent where ``nox -s bench`` runs); this process commits 200
  ``health.changed`` events with ``append_events``, one per transaction every 25 ms, notes the
  moment each commit returned and the moment its event arrived. On PostgreSQL (a database
  created for the run and dropped) NOTIFY wakes the server's tail; on SQLite the commit of
  another process moves the file's ``data_version``, which the server's tail asks every 20 ms.
* fan-out: 2,000 subscribers held by this process on one server worker (PostgreSQL when
  reachable, else SQLite), offering permessage-deflate as browsers do (``cs serve`` declines
  it): the time from a commit until every one has the event, and the server's resident memory
  per subscriber (its RSS with all of them subscribed, less its RSS before, over 2,000).

Every measurement is preceded by a wait (60 s for the whole run at most) for other processes
to leave the cores idle, and reports how busy they kept them: on a shared 2-core machine a test
suite next door halves what the server gets.

    python bench/server.py [--accounts 1000] [--postgres postgresql://postgres@127.0.0.1:5432/test]

Where the time went (py-spy, cProfile and tracemalloc on the 2-core machine), and what changed:

* Every query was validated again: the depth and alias limiters were built per request, and
  their classes are part of ``ValidationCache``'s key. Built once in ``schema()``, the page of 20
  took 8.5 ms in-process instead of 12.8.
* Full garbage collections of the ~200,000 objects a worker keeps from its imports cost
  170-245 ms, every ten requests or so: ``cs serve`` freezes them once the application is built.
* The token check read the store in a worker thread on every request (~2 ms of ~17): servers
  now remember valid tokens for ``CS_SERVER_TOKEN_CACHE_SECONDS``.
* Health's dimensions are rebuilt from stored metric values by re-scoring (~90 us an account):
  rebuilt scores are now remembered per scorecard fingerprint, moment and values.
* What is left of the floor is graphql-core's executor: a page of 20 with four dimensions is
  ~600 resolved fields at ~20 us each (strawberry's wrappers are ~15% of it). Eight closed-loop
  clients on two cores wait ~8 x 13 ms / 2 on average, so the page of 20's p99 under 50 ms at
  8 clients needs the query under ~5 ms of CPU: out of reach of this executor.
* Fan-out: a delivery costs the worker ~150-200 us of CPU per subscriber (strawberry executes
  the subscription's selection for each, then one socket write each). Subscribers hold no queue
  of their own: they read a shared window of recent events by cursor. graphql-core 3.3's
  per-event executors shared one memo of collected fields per subscription, which gained an
  entry per event for as long as the subscription lasted (~1.2 KiB per subscriber per event):
  ``PerEventExecutor`` gives each event its own.
* Memory per subscriber: permessage-deflate kept ~40 KiB per connection (``cs serve`` turns it
  off); DataLoaders are built when first used, so a subscriber's connection holds none.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import json
import math
import os
import platform
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import uvloop
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import URL, make_url
from starlette.requests import Request
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from cs_core import (
    HEALTH_CHANGED,
    Account,
    DemoOptions,
    NewEvent,
    OutboxEvent,
    Scope,
    Store,
    append_events,
    builtin_scorecards,
    create_token,
    load_demo,
    score_all,
    verify_token,
)
from cs_server import ServerSettings, schema
from cs_server._background import BackgroundSyncs
from cs_server._context import Context
from cs_server._tail import OutboxTail

AS_OF = date(2026, 11, 2)
DIMENSIONS = 4
"""The default scorecard's dimensions: every account on a page must show all of them."""
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
TARGETS = {
    "http_to_floor_ratio": 0.8,
    "page20_8_clients_p99_ms": 50.0,
    "subscription_p99_ms": 100.0,
    "fan_out_all_ms": 1000.0,
    "memory_per_subscriber_kib": 50.0,
}

_MEASURES = " measures { name metric value points band weight contribution }"
_PAGE = """
query Page($first: Int!) {
  accounts(first: $first) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id name segment owner lifecycleStage renewalDate
      health { score tier scorecard dimensions { name weight score contribution%s } } } }
  }
}
"""
SUBSCRIPTION = """
subscription Changes($after: String) {
  healthChanged(after: $after) { cursor accountId score tier }
}
"""


@dataclass(frozen=True)
class Page:
    """One of the measured queries."""

    name: str
    first: int
    measures: bool = False

    @property
    def query(self) -> str:
        return _PAGE % (_MEASURES if self.measures else "")

    @property
    def body(self) -> bytes:
        return json.dumps({"query": self.query, "variables": {"first": self.first}}).encode()

    def check(self, data: Any) -> None:
        """Raise unless ``data`` is a full page, every account with its health explained."""
        edges = data["accounts"]["edges"]
        shown = {len(edge["node"]["health"]["dimensions"]) for edge in edges}
        if len(edges) != self.first or shown != {DIMENSIONS}:
            raise RuntimeError(f"{self.name}: {len(edges)} accounts with {shown} dimensions")


PAGE_100 = Page("page of 100", 100)
PAGE_20 = Page("page of 20", 20)
PAGE_100_MEASURES = Page("page of 100 with measures", 100, measures=True)


Floors = dict[str, dict[str, Any]]
"""Figures of the floor by page name."""


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile: the smallest value at least ``share`` of them do not pass."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def milliseconds(seconds: float) -> float:
    return round(seconds * 1000, 2)


# The store ------------------------------------------------------------------------------------


def fill(store: Store, accounts: int, *, scored: bool) -> str:
    """Migrate, load the demo base (scored if asked) and return a read token's secret."""
    store.upgrade()
    load_demo(store, DemoOptions(accounts=accounts, as_of=AS_OF, history_days=90))
    if scored:
        score_all(store, as_of=datetime(AS_OF.year, AS_OF.month, AS_OF.day, tzinfo=UTC))
    with store.transaction() as session:
        return create_token(session, "bench", [Scope.READ])[1]


def first_account(store: Store) -> int:
    with store.transaction() as session:
        return session.scalar(select(Account.id).order_by(Account.id)) or 0


def newest_event(store: Store) -> int:
    with store.transaction() as session:
        return session.scalar(select(func.max(OutboxEvent.id))) or 0


def commit_change(store: Store, account: int, score: float) -> tuple[int, float]:
    """Commit one ``health.changed`` as a scoring run would; its id and when the commit returned."""
    payload = {
        "account_id": account, "scorecard": "sop", "scorecard_version": 1,
        "as_of": "2026-11-02T00:00:00+00:00", "previous": {"score": 50.0, "tier": "Red"},
        "current": {"score": score, "tier": "Green" if score >= 80 else "Yellow"},
        "delta": score - 50.0, "cause": "customer", "moved": [],
    }  # fmt: skip
    with store.transaction() as session:
        (event_id,) = append_events(session, [NewEvent(HEALTH_CHANGED, payload, account)])
    return event_id, time.perf_counter()


def reachable(url: str) -> str | None:
    """``None`` if PostgreSQL answers at ``url``, else why not."""
    engine = create_engine(
        make_url(url).set(drivername="postgresql+psycopg"), connect_args={"connect_timeout": 3}
    )
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return None
    except Exception as error:
        return str(error).strip().splitlines()[0]
    finally:
        engine.dispose()


@contextmanager
def postgres_database(url: str) -> Iterator[URL]:
    """A database of its own on the server of ``url``, dropped at the end."""
    server = make_url(url).set(drivername="postgresql+psycopg")
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield server.set(database=name)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


# The floor ------------------------------------------------------------------------------------


async def floor(store: Store, secret: str, page: Page, seconds: float) -> dict[str, Any]:
    """Milliseconds per query of ``page`` run by the schema in this process, one at a time."""
    built = schema(ServerSettings())
    scorecards = builtin_scorecards()
    tail = OutboxTail(store, poll_interval=1.0)  # not started: queries do not read it
    with store.transaction() as session:
        token = verify_token(session, secret)
    request = Request({"type": "http", "method": "POST", "path": "/graphql", "headers": []})

    async def once() -> Any:
        context = Context(store, scorecards, tail, BackgroundSyncs(), token, request)
        result = await built.execute(
            page.query, variable_values={"first": page.first}, context_value=context
        )
        if result.errors:
            raise RuntimeError(f"{page.name}: {result.errors}")
        return result.data

    page.check(await once())
    for _ in range(5):
        await once()
    count, cpu, busy = 0, time.process_time(), machine_busy()
    began = time.perf_counter()
    while count < 10 or time.perf_counter() - began < seconds:
        await once()
        count += 1
    elapsed = time.perf_counter() - began
    spent = time.process_time() - cpu
    return {
        "page": page.name,
        "queries": count,
        "ms_per_query": round(elapsed / count * 1000, 2),
        "queries_per_second": round(count / elapsed, 1),
        "cpu_ms_per_query": round(spent / count * 1000, 2),
        "other_processes_cores_busy": round((machine_busy() - busy - spent) / elapsed, 2),
    }


# Server processes -----------------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def machine_busy() -> float:
    """CPU seconds every core of the machine has spent busy since boot (from /proc/stat)."""
    ticks = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq = ticks[:7]
    return (user + nice + system + irq + softirq) / _TICK


@dataclass
class Quiet:
    """Waits for the machine's other processes to leave its cores nearly idle (under
    ``threshold`` cores over half a second) before a measurement, within one budget for the run:
    on a shared machine a test suite next door would otherwise be measured too."""

    budget: float
    threshold: float = 0.2
    waited: float = 0.0

    def wait(self) -> None:
        while self.budget > 0:
            began, busy = time.perf_counter(), machine_busy()
            time.sleep(0.5)
            elapsed = time.perf_counter() - began
            self.budget -= elapsed
            self.waited += elapsed
            if (machine_busy() - busy) / elapsed < self.threshold:
                return


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def spawned_workers(parent: int) -> list[int]:
    """uvicorn's worker processes under ``parent`` (not multiprocessing's resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if ppid == parent and b"spawn_main" in command:
            found.append(int(entry.name))
    return sorted(found)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    workers: list[int]
    """The processes that serve: the workers, or the process itself when it is the only one."""

    @property
    def ws_url(self) -> str:
        return self.url.replace("http", "ws", 1) + "/graphql"

    def cpu(self) -> list[float]:
        return [cpu_seconds(pid) for pid in self.workers]


@contextmanager
def serving(database_url: str, workers: int, poll_interval: float, log: Path) -> Iterator[Server]:
    """``cs serve`` in a process of its own."""
    port = free_port()
    environment = os.environ | {"CS_DATABASE_URL": database_url,
                                "CS_SERVER_POLL_INTERVAL": str(poll_interval)}  # fmt: skip
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("cs")), "serve", "--workers", str(workers),
             "--host", "127.0.0.1", "--port", str(port)],
            env=environment, stdout=sink, stderr=sink,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    serving_pids: list[int] = []
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the server did not become ready:\n{tail}")
            serving_pids = [process.pid] if workers == 1 else spawned_workers(process.pid)
            try:
                ready = httpx.get(f"{url}/readyz").status_code == 200
            except httpx.TransportError:
                ready = False
            if ready and len(serving_pids) == workers:
                break
            time.sleep(0.1)
        settle(serving_pids, deadline)
        yield Server(url, process, serving_pids)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for pid in serving_pids:  # a worker its supervisor failed to stop
            if Path(f"/proc/{pid}").exists():
                os.kill(pid, signal.SIGKILL)


def settle(pids: list[int], deadline: float) -> None:
    """Wait until every process has finished starting (spends under 5% of a core)."""
    before = [cpu_seconds(pid) for pid in pids]
    while time.monotonic() < deadline:
        time.sleep(0.5)
        after = [cpu_seconds(pid) for pid in pids]
        if all(b - a < 0.025 for a, b in zip(before, after, strict=True)):
            return
        before = after
    raise RuntimeError("the server's workers did not settle")


# HTTP load ------------------------------------------------------------------------------------


async def http_level(
    server: Server, secret: str, page: Page, clients: int, seconds: float
) -> dict[str, Any]:
    """``clients`` keep-alive connections posting ``page`` back to back for ``seconds``."""
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    body = page.body
    async with httpx.AsyncClient(
        base_url=server.url, headers=headers, limits=limits, timeout=60
    ) as client:

        async def post() -> bytes:
            response = await client.post("/graphql", content=body)
            if response.status_code != 200 or b'"errors"' in response.content:
                raise RuntimeError(f"{page.name}: {response.status_code} {response.text[:500]}")
            return response.content

        page.check(json.loads(await post())["data"])

        async def client_loop(until: float, latencies: list[float]) -> None:
            while (began := time.perf_counter()) < until:
                await post()
                latencies.append(time.perf_counter() - began)

        warm = time.perf_counter() + 1.0
        await asyncio.gather(*(client_loop(warm, []) for _ in range(clients)))
        server_cpu, client_cpu, busy = server.cpu(), time.process_time(), machine_busy()
        began = time.perf_counter()
        latencies: list[list[float]] = [[] for _ in range(clients)]
        await asyncio.gather(*(client_loop(began + seconds, each) for each in latencies))
        elapsed = time.perf_counter() - began
        client_spent = time.process_time() - client_cpu
        worker_spent = [b - a for a, b in zip(server_cpu, server.cpu(), strict=True)]
        others = machine_busy() - busy - client_spent - sum(worker_spent)
    every = [latency for each in latencies for latency in each]
    return {
        "page": page.name,
        "clients": clients,
        "requests": len(every),
        "requests_per_second": round(len(every) / elapsed, 1),
        "p50_ms": milliseconds(percentile(every, 0.50)),
        "p99_ms": milliseconds(percentile(every, 0.99)),
        "server_cpu_ms_per_request": round(sum(worker_spent) / len(every) * 1000, 2),
        "server_cores_busy": round(sum(worker_spent) / elapsed, 2),
        "worker_cpu_shares": [round(s / max(sum(worker_spent), 1e-9), 2) for s in worker_spent],
        "client_cores_busy": round(client_spent / elapsed, 2),
        "other_processes_cores_busy": round(others / elapsed, 2),
    }


# Subscribers ----------------------------------------------------------------------------------


def event_cursor(event_id: int) -> str:
    return base64.urlsafe_b64encode(f"outbox:{event_id}".encode()).decode()


def event_id_of(cursor: str) -> int:
    return int(base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")[2])


@dataclass
class Arrivals:
    """When each event reached the subscribers; a waiter per event for all ``expected`` of them."""

    expected: int
    times: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    complete: dict[int, asyncio.Event] = field(default_factory=lambda: defaultdict(asyncio.Event))
    failure: BaseException | None = None

    def note(self, event_id: int, moment: float) -> None:
        times = self.times[event_id]
        times.append(moment)
        if len(times) == self.expected:
            self.complete[event_id].set()

    def fail(self, error: BaseException) -> None:
        self.failure = error
        for waiter in list(self.complete.values()):
            waiter.set()

    async def wait(self, event_id: int, timeout: float) -> list[float]:
        if self.failure is None:
            try:
                async with asyncio.timeout(timeout):
                    await self.complete[event_id].wait()
            except TimeoutError:
                got = len(self.times[event_id])
                raise RuntimeError(
                    f"event {event_id} reached {got} of {self.expected} subscribers in {timeout} s"
                ) from None
        if self.failure is not None:
            raise RuntimeError(f"a subscriber failed: {self.failure!r}") from self.failure
        return self.times[event_id]


async def subscribe(url: str, secret: str, after: int) -> ClientConnection:
    """A ``healthChanged`` subscription after the event ``after``, over graphql-transport-ws."""
    connection = await connect(url, subprotocols=[Subprotocol("graphql-transport-ws")],
                               ping_interval=None, open_timeout=60, close_timeout=5)  # fmt: skip
    await connection.send(json.dumps(
        {"type": "connection_init", "payload": {"Authorization": f"Bearer {secret}"}}))  # fmt: skip
    answer = json.loads(await connection.recv())
    if answer.get("type") != "connection_ack":
        raise RuntimeError(f"connection_init answered with {answer}")
    await connection.send(json.dumps({"type": "subscribe", "id": "1", "payload": {
        "query": SUBSCRIPTION, "variables": {"after": event_cursor(after)}}}))  # fmt: skip
    return connection


async def receive(connection: ClientConnection, arrivals: Arrivals) -> None:
    """Note the moment each change arrives, until the connection closes."""
    try:
        async for raw in connection:
            moment = time.perf_counter()
            message = json.loads(raw)
            if message["type"] == "next" and not message["payload"].get("errors"):
                change = message["payload"]["data"]["healthChanged"]
                arrivals.note(event_id_of(change["cursor"]), moment)
            elif message["type"] == "ping":
                await connection.send(json.dumps({"type": "pong"}))
            elif message["type"] != "pong":
                raise RuntimeError(f"the subscription ended: {message}")
    except Exception as error:
        arrivals.fail(error)


async def latency(
    store: Store, server: Server, secret: str, changes: int, interval: float, timeout: float
) -> dict[str, Any]:
    """Commit ``changes`` events ``interval`` apart; how long each took to reach a subscriber."""
    account = first_account(store)
    arrivals = Arrivals(1)
    connection = await subscribe(server.ws_url, secret, newest_event(store))
    receiver = asyncio.create_task(receive(connection, arrivals))
    try:
        for score in (51.0, 52.0, 53.0):  # the subscription is live once these arrived
            event_id, _ = await asyncio.to_thread(commit_change, store, account, score)
            await arrivals.wait(event_id, timeout)
        committed: dict[int, float] = {}
        began = time.perf_counter()
        for number in range(changes):
            await asyncio.sleep(max(0.0, began + number * interval - time.perf_counter()))
            event_id, moment = await asyncio.to_thread(
                commit_change, store, account, 60.0 + number % 40
            )
            committed[event_id] = moment
        delays = [(await arrivals.wait(event_id, timeout))[0] - moment
                  for event_id, moment in committed.items()]  # fmt: skip
    finally:
        await connection.close()
        await receiver
    return {
        "changes": len(delays),
        "p50_ms": milliseconds(percentile(delays, 0.50)),
        "p99_ms": milliseconds(percentile(delays, 0.99)),
        "max_ms": milliseconds(max(delays)),
    }


async def fan_out(
    store: Store, server: Server, secret: str, subscribers: int, commits: int, timeout: float
) -> dict[str, Any]:
    """``subscribers`` connections on one worker: memory each, and time until all have a change."""
    (pid,) = server.workers
    account = first_account(store)
    warm = Arrivals(1)  # one subscriber first, so that RSS before counts the code it runs
    connection = await subscribe(server.ws_url, secret, newest_event(store))
    receiver = asyncio.create_task(receive(connection, warm))
    event_id, _ = await asyncio.to_thread(commit_change, store, account, 55.0)
    await warm.wait(event_id, timeout)
    await connection.close()
    await receiver
    await asyncio.sleep(1.0)
    rss_before = rss_kib(pid)

    arrivals = Arrivals(subscribers)
    after = newest_event(store)
    connections: list[ClientConnection] = []
    receivers: list[asyncio.Task[None]] = []
    opening = asyncio.Semaphore(64)

    async def open_one() -> None:
        async with opening:
            connection = await subscribe(server.ws_url, secret, after)
        connections.append(connection)
        receivers.append(asyncio.create_task(receive(connection, arrivals)))

    began = time.perf_counter()
    try:
        await asyncio.gather(*(open_one() for _ in range(subscribers)))
        event_id, _ = await asyncio.to_thread(commit_change, store, account, 56.0)
        await arrivals.wait(event_id, timeout)  # every subscription is live
        connected = time.perf_counter() - began
        await asyncio.sleep(1.0)
        rss_after = rss_kib(pid)
        rounds = []
        for number in range(commits):
            cpu = cpu_seconds(pid)
            event_id, moment = await asyncio.to_thread(commit_change, store, account, 70.0 + number)
            times = await arrivals.wait(event_id, timeout)
            rounds.append({
                "first_ms": milliseconds(min(times) - moment),
                "median_ms": milliseconds(percentile(times, 0.5) - moment),
                "all_ms": milliseconds(max(times) - moment),
                "server_cpu_ms": round((cpu_seconds(pid) - cpu) * 1000),
            })  # fmt: skip
            await asyncio.sleep(0.5)  # lets the server's fan-out finish before the next
    finally:
        await asyncio.gather(*(each.close() for each in connections), return_exceptions=True)
        await asyncio.gather(*receivers, return_exceptions=True)
    return {
        "subscribers": subscribers,
        "connect_and_subscribe_seconds": round(connected, 1),
        "rounds": rounds,
        "all_ms_median": milliseconds(percentile([r["all_ms"] for r in rounds], 0.5) / 1000),
        "all_ms_worst": max(each["all_ms"] for each in rounds),
        "server_rss_before_mib": round(rss_before / 1024, 1),
        "server_rss_after_mib": round(rss_after / 1024, 1),
        "memory_per_subscriber_kib": round((rss_after - rss_before) / subscribers, 1),
    }


# The run --------------------------------------------------------------------------------------


def raise_open_files(needed: int) -> int:
    """Raise this process's (and so its children's) open-files limit to cover ``needed``."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        soft = wanted
    if soft != resource.RLIM_INFINITY and soft < needed:
        raise RuntimeError(f"the open-files limit is {soft}; {needed} are needed")
    return soft


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def measure_floor(
    store: Store, secret: str, arguments: argparse.Namespace, runner: asyncio.Runner
) -> Floors:
    # As a server process does (``logged_app``): this one also holds the store it has just
    # filled, and full collections of it would otherwise be counted in the floor.
    gc.collect()
    gc.freeze()
    floors = {}
    for page in [PAGE_100, PAGE_20, PAGE_100_MEASURES]:
        arguments.quiet.wait()
        figures = runner.run(floor(store, secret, page, arguments.floor_seconds))
        floors[page.name] = figures
        print(f"floor, {page.name}: {figures['ms_per_query']} ms per query "
              f"({figures['queries_per_second']}/s, CPU {figures['cpu_ms_per_query']} ms; other "
              f"processes busy {figures['other_processes_cores_busy']} cores)")  # fmt: skip
    return floors


def measure_http(
    server: Server, secret: str, floors: Floors, arguments: argparse.Namespace,
    runner: asyncio.Runner,
) -> dict[str, Any]:  # fmt: skip
    """Each page at each number of clients, and the best throughput against the floor."""
    levels = []
    for page in [PAGE_100, PAGE_20]:
        for clients in arguments.clients:
            arguments.quiet.wait()
            level = runner.run(http_level(server, secret, page, clients, arguments.seconds))
            levels.append(level)
            print(f"HTTP, {page.name}, {clients:>2} clients: {level['requests_per_second']:>6}/s, "
                  f"p50 {level['p50_ms']} ms, p99 {level['p99_ms']} ms; server CPU "
                  f"{level['server_cpu_ms_per_request']} ms/request on "
                  f"{level['server_cores_busy']} cores (shares {level['worker_cpu_shares']}), "
                  f"client {level['client_cores_busy']}, other processes "
                  f"{level['other_processes_cores_busy']} cores")  # fmt: skip
    ratios = {}
    for page in [PAGE_100, PAGE_20]:
        top = max((level for level in levels if level["page"] == page.name),
                  key=lambda level: float(level["requests_per_second"]))  # fmt: skip
        best = top["requests_per_second"]
        ceiling = 2 * 1000 / floors[page.name]["ms_per_query"]
        ratios[page.name] = {
            "best_requests_per_second": best,
            "at_clients": top["clients"],
            "floor_times_2_cores": round(ceiling, 1),
            "ratio": round(best / ceiling, 2),
            # ratio ~ cores_used / 2 x cpu_efficiency: which of the two falls short
            "cores_used": top["server_cores_busy"],
            "cpu_efficiency": round(
                floors[page.name]["cpu_ms_per_query"] / top["server_cpu_ms_per_request"], 2
            ),
        }
        print(f"HTTP against the floor, {page.name}: best {best}/s over 2 cores x "
              f"{1000 / floors[page.name]['ms_per_query']:.1f}/s = {ratios[page.name]['ratio']} "
              f"(server on {top['server_cores_busy']} cores; floor CPU over server CPU per "
              f"request {ratios[page.name]['cpu_efficiency']})")  # fmt: skip
    return {"http": levels, "http_to_floor": ratios}


def measure_latency(
    store: Store, url: str, secret: str, arguments: argparse.Namespace, runner: asyncio.Runner,
    log: Path,
) -> dict[str, Any]:  # fmt: skip
    poll = arguments.poll_interval
    with serving(url, 1, poll, log) as server:
        arguments.quiet.wait()
        figures = runner.run(latency(store, server, secret, arguments.changes,
                                     arguments.change_interval, timeout=poll * 3 + 30))  # fmt: skip
    woken = ("NOTIFY" if store.dialect == "postgresql"
             else "data_version asked every 20 ms, commits from another process")  # fmt: skip
    print(f"subscription, {store.dialect} ({woken}): p50 {figures['p50_ms']} ms, "
          f"p99 {figures['p99_ms']} ms over {figures['changes']} changes")  # fmt: skip
    return figures


def measure_fan_out(
    store: Store, url: str, secret: str, arguments: argparse.Namespace, runner: asyncio.Runner,
    log: Path,
) -> dict[str, Any]:  # fmt: skip
    poll = arguments.poll_interval
    with serving(url, 1, poll, log) as server:
        arguments.quiet.wait()
        spread = runner.run(fan_out(store, server, secret, arguments.subscribers,
                                    arguments.fan_out_commits, timeout=poll * 3 + 120))  # fmt: skip
    spread["dialect"] = store.dialect
    print(f"fan-out, {spread['subscribers']} subscribers on one worker ({store.dialect}): "
          f"connected in {spread['connect_and_subscribe_seconds']} s; all had each change "
          f"within {[r['all_ms'] for r in spread['rounds']]} ms (median "
          f"{spread['all_ms_median']} ms; server CPU per change "
          f"{[r['server_cpu_ms'] for r in spread['rounds']]} ms); server RSS "
          f"{spread['server_rss_before_mib']} -> {spread['server_rss_after_mib']} MiB = "
          f"{spread['memory_per_subscriber_kib']} KiB per subscriber")  # fmt: skip
    return spread


def run(arguments: argparse.Namespace, runner: asyncio.Runner) -> dict[str, Any]:
    result: dict[str, Any] = {"accounts": arguments.accounts,
                              "poll_interval_s": arguments.poll_interval}  # fmt: skip
    postgres = arguments.postgres
    unreachable = reachable(postgres) if postgres else "not asked for"
    if postgres and unreachable and arguments.postgres_given:
        raise RuntimeError(f"PostgreSQL at {postgres} is not reachable: {unreachable}")
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "server.log"
        database = f"sqlite:///{Path(folder) / 'bench.db'}"
        with Store(database) as store:
            began = time.perf_counter()
            secret = fill(store, arguments.accounts, scored=True)
            print(f"SQLite store: {arguments.accounts} demo accounts loaded and scored in "
                  f"{time.perf_counter() - began:.1f} s (not timed below)")  # fmt: skip
            floors = measure_floor(store, secret, arguments, runner)
            result["floor"] = list(floors.values())
            with serving(database, 2, arguments.poll_interval, log) as server:
                result |= measure_http(server, secret, floors, arguments, runner)
            result["subscription_sqlite"] = measure_latency(
                store, database, secret, arguments, runner, log)  # fmt: skip
            if unreachable:
                print(f"PostgreSQL: skipped ({unreachable}); fan-out measured on SQLite")
                result["postgresql"] = f"skipped: {unreachable}"
                result["fan_out"] = measure_fan_out(
                    store, database, secret, arguments, runner, log)  # fmt: skip
                return result
        with postgres_database(postgres) as url, Store(url) as pg:
            secret = fill(pg, 10, scored=False)
            rendered = url.render_as_string(hide_password=False)
            result["subscription_postgresql"] = measure_latency(
                pg, rendered, secret, arguments, runner, log)  # fmt: skip
            result["fan_out"] = measure_fan_out(pg, rendered, secret, arguments, runner, log)
    return result


def judged(result: dict[str, Any]) -> dict[str, Any]:
    """Each target with the figure it is judged on and whether it is met."""
    page20_8 = [level for level in result["http"]
                if level["page"] == PAGE_20.name and level["clients"] == 8]  # fmt: skip
    subscription = result.get("subscription_postgresql", result["subscription_sqlite"])
    checks: dict[str, Any] = {
        f"http_to_floor_ratio, {name}": (figures["ratio"], TARGETS["http_to_floor_ratio"], ">=")
        for name, figures in result["http_to_floor"].items()
    }
    if page20_8:
        checks["page20_8_clients_p99_ms"] = (
            page20_8[0]["p99_ms"],
            TARGETS["page20_8_clients_p99_ms"],
            "<",
        )
    checks["subscription_p99_ms, " + ("postgresql" if "subscription_postgresql" in result
                                      else "sqlite")] = (
        subscription["p99_ms"], TARGETS["subscription_p99_ms"], "<")  # fmt: skip
    checks["fan_out_all_ms"] = (
        result["fan_out"]["all_ms_worst"], TARGETS["fan_out_all_ms"], "<")  # fmt: skip
    checks["memory_per_subscriber_kib"] = (
        result["fan_out"]["memory_per_subscriber_kib"],
        TARGETS["memory_per_subscriber_kib"],
        "<",
    )
    verdicts = {}
    for name, (figure, target, sense) in checks.items():
        met = figure >= target if sense == ">=" else figure < target
        verdicts[name] = {"figure": figure, "target": f"{sense} {target}", "met": met}
        print(f"target {name}: {figure} (target {sense} {target}): {verdict(met)}")
    return verdicts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument(
        "--floor-seconds", type=float, default=4.0, help="how long each floor query is repeated"
    )
    parser.add_argument(
        "--seconds", type=float, default=8.0, help="how long each HTTP level is timed"
    )
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=60.0,
        help="seconds the run may wait in all for other processes to leave the cores idle",
    )
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--change-interval", type=float, default=0.025)
    parser.add_argument("--subscribers", type=int, default=2000)
    parser.add_argument("--fan-out-commits", type=int, default=10)
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=ServerSettings().poll_interval,
        help="CS_SERVER_POLL_INTERVAL of the servers [default: theirs]",
    )
    parser.add_argument(
        "--postgres",
        default=None,
        help=f"PostgreSQL server to measure on ('' to skip) [default: $CS_TEST_POSTGRES_URL, "
        f"else {DEFAULT_POSTGRES} if it answers]",
    )
    arguments = parser.parse_args()
    arguments.postgres_given = arguments.postgres is not None
    arguments.quiet = Quiet(arguments.quiet_wait)
    if arguments.postgres is None:
        arguments.postgres = os.environ.get("CS_TEST_POSTGRES_URL") or DEFAULT_POSTGRES
    open_files = raise_open_files(arguments.subscribers * 2 + 1000)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        result = run(arguments, runner)
    verdicts = judged(result)
    print(f"waited {arguments.quiet.waited:.0f} s in all for other processes to go quiet")
    print(json.dumps({
        "benchmark": "server",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                   f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB, "
                   f"Python {platform.python_version()}",
        "open_files_limit": open_files,
        "waited_for_quiet_s": round(arguments.quiet.waited, 1),
        **result,
        "targets": verdicts,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
