"""The HubSpot connector through hubspot-api-client against FakeHubSpot: full and incremental
syncs, pages, time windows halved below the search cap, faults, quarantine, check(), and a sync
killed mid-stream that resumes to exactly what an uninterrupted one stores."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime
from typing import Any

import pytest
from cs_fakes.hubspot import ACCESS_TOKEN, FakeHubSpot
from cs_fakes.server import Request
from sqlalchemy import func, select, text

from cs_connectors import HubSpotConnector, HubSpotSettings
from cs_core import (
    Account,
    Candidate,
    Checkpoint,
    ConfigurationError,
    ConnectorError,
    Contact,
    Opportunity,
    OpportunityType,
    QuarantinedRecord,
    Store,
    Stream,
    StreamItem,
    TransientError,
    sync,
    sync_state,
)

PROPERTIES = {"segment_property": "customer_segment", "arr_property": "annual_recurring_revenue"}


@pytest.fixture
def hubspot() -> Iterator[FakeHubSpot]:
    fake = FakeHubSpot(companies=12, contacts=24, deals=12, ties=3)
    with fake.running():
        yield fake


def connector(fake: FakeHubSpot, **settings: Any) -> HubSpotConnector:
    values = {"access_token": ACCESS_TOKEN, "host": fake.base_url, "page_size": 5,
              **PROPERTIES, **settings}  # fmt: skip
    return HubSpotConnector(HubSpotSettings(**values))


def stream(hubspot: HubSpotConnector, name: str) -> Stream:
    return next(each for each in hubspot.streams() if each.name == name)


def read_ids(items: Iterable[StreamItem]) -> list[str]:
    return [str(item.fields["external_id"]) for item in items if isinstance(item, Candidate)]


def searches(fake: FakeHubSpot, object_type: str) -> list[Request]:
    return [r for r in fake.requests if r.path == f"/crm/v3/objects/{object_type}/search"]


def window(search: Request) -> tuple[str, str]:
    """The (from, until) of a search's time window."""
    (group,) = search.body["filterGroups"]
    bounds = {f["operator"]: f["value"] for f in group["filters"]}
    return bounds["GTE"], bounds["LT"]


def count(store: Store, model: type) -> int:
    with store.transaction() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_full_sync_maps_companies_contacts_and_deals(store: Store, hubspot: FakeHubSpot) -> None:
    report = sync(store, connector(hubspot))
    assert [(s.stream, s.status, s.read, s.written, s.quarantined) for s in report.streams] == [
        ("companies", "succeeded", 12, 12, 0),
        ("contacts", "succeeded", 24, 24, 0),
        ("deals", "succeeded", 12, 12, 0),
    ]
    companies, contacts, deals = (hubspot.ids(kind) for kind in ("companies", "contacts", "deals"))
    with store.transaction() as session:
        account = session.execute(
            select(Account.source, Account.name, Account.domain, Account.segment, Account.owner,
                   Account.arr).where(Account.external_id == companies[1])
        ).one()  # fmt: skip
        # Joined to the account it was tied to: the link is by the company's id.
        contact = session.execute(
            select(Contact.email, Contact.name, Contact.title, Account.external_id)
            .join(Account, Account.id == Contact.account_id)
            .where(Contact.external_id == contacts[5])
        ).one()
        deal = select(Opportunity.external_id, Opportunity.name, Opportunity.type,
                      Opportunity.amount, Opportunity.currency, Opportunity.stage,
                      Opportunity.close_date, Opportunity.outcome,
                      Account.external_id.label("company"))  # fmt: skip
        opportunities = {
            row.external_id: row
            for row in session.execute(deal.join(Account, Account.id == Opportunity.account_id))
        }
    assert tuple(account) == ("hubspot", "Company 1", "company1.example.com", "mid_market",
                              "bob@cs.example.com", Decimal("24000.00"))  # fmt: skip
    # Contact 5 is associated with company 6 first, then with company 5 as its primary company.
    assert tuple(contact) == ("contact5@company5.example.com", "Contact 5", "Head of Operations",
                              companies[5])  # fmt: skip
    assert len(opportunities) == 12
    won, lost, open_ = opportunities[deals[3]], opportunities[deals[4]], opportunities[deals[0]]
    assert tuple(won)[1:] == ("Deal 3", "expansion", Decimal("4000.00"), "USD", "closedwon",
                              date(2025, 2, 3), "won", companies[3])  # fmt: skip
    assert (lost.type, lost.stage, lost.outcome) == ("new", "closedlost", "lost")
    assert (open_.stage, open_.outcome) == ("appointmentscheduled", "open")
    # The cursor is the last modification time; the three companies that share it are kept.
    assert sync_state(store, "hubspot", "companies") == {
        "cursor": "2025-01-01T00:00:03.000Z", "seen_at_cursor": sorted(companies[9:]),
    }  # fmt: skip
    assert {
        search.body["sorts"][0]["propertyName"] for search in searches(hubspot, "contacts")
    } == {"lastmodifieddate"}


def test_pages_are_followed_and_each_is_checkpointed(hubspot: FakeHubSpot) -> None:
    items = list(stream(connector(hubspot), "companies").read(None))
    assert sorted(read_ids(items)) == hubspot.ids("companies")
    bodies = [search.body for search in searches(hubspot, "companies")]
    assert [(body.get("after"), body["limit"]) for body in bodies] == [
        (None, 5), ("5", 5), ("10", 5),
    ]  # fmt: skip
    assert len({window(search) for search in searches(hubspot, "companies")}) == 1
    # A checkpoint after each page's five records, then the last one.
    shape = ["c" if isinstance(item, Checkpoint) else "r" for item in items]
    assert "".join(shape) == "rrrrrcrrrrrcrrcc"


def test_an_incremental_sync_reads_what_changed_from_the_cursor(
    store: Store, hubspot: FakeHubSpot
) -> None:
    sync(store, connector(hubspot))
    state = sync_state(store, "hubspot", "companies")
    assert state is not None
    companies = hubspot.ids("companies")
    # Modified in the very millisecond of the cursor: ">=" finds it, the three seen are skipped.
    tied = hubspot.create("companies", {"name": "Tied", "domain": "tied.example.com",
                                        "customer_segment": "smb"},
                          at=datetime.fromisoformat(state["cursor"]))  # fmt: skip
    hubspot.update("companies", companies[0], {"name": "Company Zero"})
    hubspot.update("contacts", hubspot.ids("contacts")[0], {"jobtitle": "CTO"})
    report = sync(store, connector(hubspot))
    assert [(s.stream, s.read) for s in report.streams] == [
        ("companies", 2), ("contacts", 1), ("deals", 0),
    ]  # fmt: skip
    with store.transaction() as session:
        names = dict(session.execute(select(Account.external_id, Account.name)).all())
        (title,) = session.scalars(select(Contact.title).where(
            Contact.external_id == hubspot.ids("contacts")[0]))  # fmt: skip
    assert (len(names), names[tied], names[companies[0]], title) == (
        13, "Tied", "Company Zero", "CTO",
    )  # fmt: skip


def test_windows_are_halved_until_each_holds_fewer_results_than_the_cap() -> None:
    fake = FakeHubSpot(companies=60, contacts=0, deals=0, ties=3, result_cap=20)
    with fake.running():
        items = list(stream(connector(fake, search_result_cap=20, page_size=7), "companies")
                     .read(None))  # fmt: skip
        read = read_ids(items)
        assert sorted(read) == fake.ids("companies")
        assert len(read) == len(set(read))  # every company, each once
        bodies = [search.body for search in searches(fake, "companies")]
        assert all(int(body.get("after") or 0) < 20 for body in bodies)
        assert len({window(search) for search in searches(fake, "companies")}) > 3

        # Paged past the cap in one window instead, the search refuses, as HubSpot's does.
        with pytest.raises(ConnectorError, match=r"^HubSpot answered 400 while searching "
                           r"companies .*: There was a problem with the request\.$"):  # fmt: skip
            list(stream(connector(fake, page_size=7), "companies").read(None))
        assert searches(fake, "companies")[-1].body["after"] == "21"


def test_a_millisecond_holding_the_cap_fails_the_stream() -> None:
    fake = FakeHubSpot(companies=8, contacts=0, deals=0, ties=8, result_cap=5)
    with fake.running(), pytest.raises(ConnectorError) as raised:
        list(stream(connector(fake, search_result_cap=5), "companies").read(None))
    assert str(raised.value) == (
        "HubSpot holds 8 companies last modified in the one millisecond 2025-01-01T00:00:00.000Z, "
        "and its search returns at most 5 results a query: stopping rather than losing some of "
        "them"
    )


def test_a_record_changed_while_its_window_is_paged_leaves_no_gap(hubspot: FakeHubSpot) -> None:
    companies = hubspot.ids("companies")
    read: list[str] = []
    for item in stream(connector(hubspot), "companies").read(None):
        if isinstance(item, Candidate):
            read.append(str(item.fields["external_id"]))
        elif len(read) == 5 and companies[0] in read:
            # Changed now, the first company leaves the window: the offsets after it move.
            hubspot.update("companies", companies[0], {"name": "Moved"}, at=datetime.now(UTC))
    assert sorted(read) == companies


def test_a_rate_limit_is_retried_by_the_engine_not_by_the_client_library(
    store: Store, hubspot: FakeHubSpot
) -> None:
    hubspot.rate_limit_next(retry_after=7, path="/search")
    limited = r"HubSpot's rate limit stopped searching companies .*: You have reached your "
    with pytest.raises(TransientError, match=limited + r"secondly limit\. \(SECONDLY\)") as raised:
        list(stream(connector(hubspot), "companies").read(None))
    assert raised.value.retry_after == 7

    # A GET, which the client library's transport would retry by itself if let.
    hubspot.rate_limit_next(retry_after=0, path="/crm/v3/owners")
    (report,) = sync(store, connector(hubspot), streams=["companies"]).streams
    assert (report.status, report.retries, report.written) == ("succeeded", 1, 12)
    assert len([r for r in hubspot.requests if r.path.startswith("/crm/v3/owners")]) == 2


def test_a_server_error_may_give_its_retry_after_as_a_date(hubspot: FakeHubSpot) -> None:
    in_a_minute = format_datetime(datetime.now(UTC) + timedelta(minutes=1), usegmt=True)
    hubspot.fail_next(503, {"status": "error", "message": "Service Unavailable"}, path="/search",
                      headers={"Retry-After": in_a_minute})  # fmt: skip
    with pytest.raises(TransientError, match="HubSpot answered 503 while searching") as raised:
        list(stream(connector(hubspot), "companies").read(None))
    assert raised.value.retry_after is not None
    assert 50 < raised.value.retry_after <= 60


def test_a_server_error_is_retried_from_the_checkpoint(store: Store, hubspot: FakeHubSpot) -> None:
    hubspot.fail_next(502, {"status": "error", "message": "Bad Gateway"}, path="/search",
                      headers={"Retry-After": "0"})  # fmt: skip
    hubspot.fail_next(503, {"status": "error", "message": "Service Unavailable"},
                      path="/crm/v4/associations", headers={"Retry-After": "0"})  # fmt: skip
    report = sync(store, connector(hubspot), streams=["companies", "contacts"])
    assert [(s.stream, s.status, s.retries, s.read, s.written) for s in report.streams] == [
        ("companies", "succeeded", 1, 12, 12), ("contacts", "succeeded", 1, 24, 24),
    ]  # fmt: skip


def test_malformed_records_are_quarantined_with_their_payload(
    store: Store, hubspot: FakeHubSpot
) -> None:
    first = hubspot.ids("companies")[0]
    bad_domain = hubspot.create("companies", {"name": "Bad", "domain": "not a domain",
                                              "customer_segment": "smb"})  # fmt: skip
    no_segment = hubspot.create("companies", {"name": "Plain", "domain": "plain.example.com"})
    no_email = hubspot.create("contacts", {"firstname": "Nobody"}, company=first)
    no_type = hubspot.create("deals", {"dealname": "Untyped", "amount": "100",
                                       "closedate": "2025-03-01T00:00:00.000Z",
                                       "dealstage": "contractsent"}, company=first)  # fmt: skip
    report = sync(store, connector(hubspot))
    assert [(s.written, s.quarantined) for s in report.streams] == [(12, 2), (24, 1), (12, 1)]
    with store.transaction() as session:
        rows = {key: (payload, reason) for key, payload, reason in session.execute(
            select(QuarantinedRecord.record_key, QuarantinedRecord.payload,
                   QuarantinedRecord.reason))}  # fmt: skip
    payload, reason = rows[f"account:{bad_domain}"]
    assert reason.startswith("domain: Value error, 'not a domain' is not a domain name")
    assert payload["id"] == bad_domain
    assert payload["properties"]["domain"] == "not a domain"
    assert rows[f"account:{no_segment}"][1] == "segment: Field required"
    payload, reason = rows[f"contact:{no_email}"]
    assert reason == "email: Field required"
    assert payload["associations"] == {"companies": [first]}
    assert rows[f"opportunity:{no_type}"][1] == "type: Field required"

    # Given a default type, the untyped deal is read as one.
    sync(store, connector(hubspot, default_deal_type="renewal"), full_refresh=True,
         streams=["deals"])  # fmt: skip
    with store.transaction() as session:
        kind = session.scalar(select(Opportunity.type).where(Opportunity.external_id == no_type))
    assert kind is OpportunityType.RENEWAL


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_check_says_what_to_fix(hubspot: FakeHubSpot) -> None:
    connector(hubspot).check()
    with pytest.raises(ConnectorError, match=r"HubSpot refused the access token while listing "
                       r"companies \(Authentication credentials not found.*\): set "
                       r"CS_HUBSPOT_ACCESS_TOKEN"):  # fmt: skip
        connector(hubspot, access_token="pat-na1-revoked").check()
    with pytest.raises(ConnectorError, match=r"cannot reach HubSpot at http://127\.0\.0\.1:\d+ "
                       r"while listing companies .*: check CS_HUBSPOT_HOST"):  # fmt: skip
        connector(hubspot, host=f"http://127.0.0.1:{_closed_port()}").check()
    with pytest.raises(ConnectorError, match="set CS_HUBSPOT_SEGMENT_PROPERTY"):
        connector(hubspot, segment_property=None).check()


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CS_HUBSPOT_HOST", "api.hubapi.com")
    with pytest.raises(ConfigurationError, match=(
        r"connector 'hubspot' is not configured: CS_HUBSPOT_ACCESS_TOKEN: Field required; "
        r"CS_HUBSPOT_HOST: Value error, 'api.hubapi.com' is not an address such as "
        r"https://api.hubapi.com"
    )):  # fmt: skip
        HubSpotConnector.from_environment()
    monkeypatch.setenv("CS_HUBSPOT_HOST", "http://127.0.0.1:8081/")
    monkeypatch.setenv("CS_HUBSPOT_ACCESS_TOKEN", "pat-na1-secret")
    monkeypatch.setenv("CS_HUBSPOT_DEAL_TYPES", '{"Renewal Deal": "renewal"}')
    settings = HubSpotConnector.from_environment().settings
    assert isinstance(settings, HubSpotSettings)
    assert settings.host == "http://127.0.0.1:8081"
    assert settings.deal_types == {"renewal deal": OpportunityType.RENEWAL}
    assert "pat-na1-secret" not in repr(settings)


# Killed with SIGKILL mid-stream, then run again: the same store as a run never interrupted.

RUNNER = """
from cs_core import Store, sync
from cs_connectors import HubSpotConnector
sync(Store({url!r}), HubSpotConnector.from_environment())
"""
KILL_SETTINGS = {**PROPERTIES, "page_size": 20}


def _contents(store: Store) -> dict[str, list[Any]]:
    """What the sync stored, with accounts named by their external ids (not row ids)."""
    queries = {
        "accounts": "SELECT source, external_id, name, domain, segment, owner, arr FROM accounts",
        "contacts": "SELECT c.external_id, a.external_id, c.email, c.name, c.title "
                    "FROM contacts c LEFT JOIN accounts a ON a.id = c.account_id",
        "opportunities": "SELECT o.external_id, a.external_id, o.name, o.type, o.amount, "
                         "o.stage, o.close_date, o.outcome "
                         "FROM opportunities o LEFT JOIN accounts a ON a.id = o.account_id",
        "account_identities": "SELECT i.source, i.external_id, a.external_id, i.method "
                              "FROM account_identities i JOIN accounts a ON a.id = i.account_id",
        "quarantined_records": "SELECT connector, stream, record_key, payload, reason "
                               "FROM quarantined_records",
        "sync_state": "SELECT connector, stream, state FROM sync_state",
    }  # fmt: skip
    with store.transaction() as session:
        return {
            table: sorted((tuple(row) for row in session.execute(text(query))), key=repr)
            for table, query in queries.items()
        }


def test_a_sync_killed_mid_stream_resumes_to_the_same_store(
    store_factory: Callable[[], Store],
) -> None:
    fake = FakeHubSpot(companies=30, contacts=90, deals=30)
    fake.create("contacts", {"firstname": "No email"}, company=fake.ids("companies")[0])
    interrupted, reference = store_factory(), store_factory()
    with fake.running():
        # The subprocess syncs against this process's fake, slowed down so that it is killed
        # between two pages of contacts.
        fake.delay = 0.1
        environment = (
            os.environ
            | {f"CS_HUBSPOT_{name.upper()}": str(value) for name, value in KILL_SETTINGS.items()}
            | {"CS_HUBSPOT_ACCESS_TOKEN": ACCESS_TOKEN, "CS_HUBSPOT_HOST": fake.base_url}
        )
        url = interrupted.engine.url.render_as_string(hide_password=False)
        killed = subprocess.Popen([sys.executable, "-c", RUNNER.format(url=url)], env=environment)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and count(interrupted, Contact) < 20:
            time.sleep(0.01)
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        assert 20 <= count(interrupted, Contact) < 90  # it really was cut short, mid-stream
        fake.delay = 0.0
        for store in (interrupted, reference):
            report = sync(store, connector(fake, **KILL_SETTINGS))
            assert not report.failed
    assert count(reference, Contact) == 90
    assert _contents(interrupted) == _contents(reference)
