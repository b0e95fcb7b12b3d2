"""The Zendesk connector against a fake Zendesk over TLS, through the real zenpy: mapping, pages,
incremental syncs, deletions, quarantine, rate limits and outages, a paginator that repeats
itself, check(), settings, and a sync killed mid-stream that resumes to the same store."""

from __future__ import annotations

import base64
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import zenpy.lib.api
from cs_fakes.zendesk import FakeZendesk
from sqlalchemy import func, select, text

from cs_connectors import ZendeskConnector, ZendeskSettings
from cs_core import (
    Account,
    ConfigurationError,
    ConnectorError,
    Contact,
    QuarantinedRecord,
    Store,
    SurveyResponse,
    Ticket,
    TransientError,
    sync,
)

ORGANIZATIONS, USERS, AGENTS, TICKETS = 6, 24, 2, 48
PAGE = 5
RECEIVED = sorted(set(range(1, 17)) - {4, 8, 12, 16})
"""The 16 ratings of 48 tickets (solved and closed ones) but the 4 only offered."""


@pytest.fixture
def fake() -> FakeZendesk:
    return FakeZendesk(organizations=ORGANIZATIONS, users=USERS, agents=AGENTS, tickets=TICKETS,
                       page_size=PAGE, ratings_page_size=PAGE, tls=True)  # fmt: skip


@pytest.fixture
def base_url(fake: FakeZendesk, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with fake.running() as url:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(fake.ca_bundle))
        yield url


def connector(fake: FakeZendesk, base_url: str, **settings: Any) -> ZendeskConnector:
    credentials = {"email": fake.staff_email(1), "token": fake.token}
    return ZendeskConnector(ZendeskSettings(subdomain="acme", base_url=base_url,
                                            **(credentials | settings)))  # fmt: skip


def counts(report: Any) -> list[tuple[str, str, int, int, int, int]]:
    return [(s.stream, s.status, s.read, s.written, s.deleted, s.quarantined)
            for s in report.streams]  # fmt: skip


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def requested(fake: FakeZendesk, path: str) -> list[dict[str, str]]:
    return [dict(request.query) for request in fake.requests if request.path.endswith(path)]


def test_a_full_sync_maps_every_kind(store: Store, fake: FakeZendesk, base_url: str) -> None:
    zendesk = connector(fake, base_url)
    zendesk.check()
    report = sync(store, zendesk)
    assert counts(report) == [
        ("organizations", "succeeded", 6, 6, 0, 0),
        ("users", "succeeded", 22, 22, 0, 0),  # the two agents are staff, not contacts
        ("tickets", "succeeded", 48, 48, 0, 0),
        ("satisfaction_ratings", "succeeded", 12, 12, 0, 0),
    ]  # fmt: skip
    with store.transaction() as session:
        accounts = session.execute(
            select(Account.external_id, Account.name, Account.domain, Account.segment)
            .where(Account.external_id.in_(["1", "2"])).order_by(Account.external_id)
        ).all()  # fmt: skip
        contact = session.execute(
            select(Contact.email, Contact.name, Account.external_id)
            .join(Account, Contact.account_id == Account.id).where(Contact.external_id == "7")
        ).one()  # fmt: skip
        staff = session.scalars(select(Contact).where(Contact.external_id.in_(["1", "2"]))).all()
        tickets = session.execute(
            select(Ticket.external_id, Account.external_id, Ticket.subject, Ticket.priority,
                   Ticket.status, Ticket.channel, Ticket.opened_at, Ticket.first_response_at,
                   Ticket.solved_at, Ticket.replies, Ticket.satisfaction)
            .join(Account, Ticket.account_id == Account.id)
            .where(Ticket.external_id.in_(["5", "38"])).order_by(Ticket.id)
        ).all()  # fmt: skip
        responses = session.execute(
            select(SurveyResponse.external_id, SurveyResponse.score, SurveyResponse.comment,
                   SurveyResponse.respondent_email, SurveyResponse.responded_at,
                   Account.external_id)
            .join(Account, SurveyResponse.account_id == Account.id)
            .where(SurveyResponse.external_id.in_(["1", "5"])).order_by(SurveyResponse.id)
        ).all()  # fmt: skip
        stored_ratings = session.scalars(select(SurveyResponse.external_id)).all()
    assert [tuple(row) for row in accounts] == [
        ("1", "Organization 1", "org1.example.com", "enterprise"),
        ("2", "Organization 2", "org2.example.com", "mid_market"),  # "Mid-Market" in Zendesk
    ]
    assert tuple(contact) == ("user7@org5.example.com", "User 7", "5")
    assert staff == []
    assert [tuple(row) for row in tickets] == [
        ("5", "5", "SSO setup (#5)", "p1", "solved", "api", at("2023-12-31T19:01:00"),
         at("2023-12-31T19:10:00"), at("2024-01-01T00:01:00"), 1, "good"),
        # No priority set: normal. On the eighth page: its metric set was sideloaded too.
        ("38", "4", "Export fails (#38)", "p3", "open", "chat", at("2023-12-30T10:12:00"),
         at("2023-12-30T10:54:00"), None, 2, None),
    ]  # fmt: skip
    assert [tuple(row) for row in responses] == [
        ("1", 5, None, "user7@org5.example.com", at("2024-01-01T00:01:00"), "5"),
        ("5", 1, "Took too long", "user19@org5.example.com", at("2024-01-01T00:05:00"), "5"),
    ]
    assert sorted(map(int, stored_ratings)) == RECEIVED == [
        rating["id"] for rating in fake.records("satisfaction_ratings")
        if rating["score"] != "offered"
    ]  # fmt: skip

    # Several pages of each export, every ticket page asking for the metric sets again
    # (Zendesk's after_url does not carry include= on), with zenpy's token authentication.
    tickets_pages = requested(fake, "/incremental/tickets/cursor.json")
    assert [len(requested(fake, path)) for path in ("/incremental/organizations.json",
            "/incremental/users/cursor.json", "/satisfaction_ratings")] == [2, 5, 3]  # fmt: skip
    assert len(tickets_pages) == 10
    assert all(page["include"] == "metric_sets" for page in tickets_pages)
    assert all(page["score"] == "received" for page in requested(fake, "/satisfaction_ratings"))
    scheme, _, credentials = fake.requests[0].headers["authorization"].partition(" ")
    assert (scheme, base64.b64decode(credentials).decode()) == (
        "Basic", "agent1@support.example.com/token:fake-api-token",
    )  # fmt: skip


def test_an_incremental_sync_reads_only_what_changed(
    store: Store, fake: FakeZendesk, base_url: str
) -> None:
    zendesk = connector(fake, base_url)
    sync(store, zendesk)
    fake.change("organizations", 2, name="Globex")
    fake.change("organizations", 6, deleted_at="2024-02-01T00:00:00Z")
    fake.change("users", 9, name="Dana Scully")
    fake.change("users", 10, active=False)  # deleted
    fake.change("tickets", 8, status="solved")
    fake.change("tickets", 9, status="deleted")
    fake.add("satisfaction_ratings", ticket_id=8, requester_id=9, score="bad", comment="Slow")
    report = sync(store, zendesk)
    assert counts(report) == [
        ("organizations", "succeeded", 2, 1, 1, 0),
        ("users", "succeeded", 2, 1, 1, 0),
        ("tickets", "succeeded", 2, 1, 1, 0),
        ("satisfaction_ratings", "succeeded", 1, 1, 0, 0),
    ]  # fmt: skip
    with store.transaction() as session:
        assert session.scalar(select(Account.name).where(Account.external_id == "2")) == "Globex"
        assert session.scalar(select(Contact.name).where(Contact.external_id == "9")) == (
            "Dana Scully"
        )
        solved = session.execute(
            select(Ticket.status, Ticket.solved_at).where(Ticket.external_id == "8")
        ).one()
        gone = [session.scalar(select(func.count()).select_from(model).where(
            model.external_id == external_id)) for model, external_id in
            ((Account, "6"), (Contact, "10"), (Ticket, "9"))]  # fmt: skip
        added = session.execute(
            select(SurveyResponse.score, SurveyResponse.respondent_email)
            .where(SurveyResponse.external_id == "17")
        ).one()  # fmt: skip
    assert tuple(solved) == ("solved", at(fake.record("tickets", 8)["updated_at"][:-1]))
    assert gone == [0, 0, 0]
    assert tuple(added) == (1, "user9@org1.example.com")
    assert [s.read for s in sync(store, zendesk).streams] == [0, 0, 0, 0]


def test_a_malformed_record_is_quarantined_with_its_payload(
    store: Store, fake: FakeZendesk, base_url: str
) -> None:
    fake.change("tickets", 3, priority="critical")
    fake.change("organizations", 4, organization_fields={"region": "EMEA"})
    report = sync(store, connector(fake, base_url))
    assert counts(report)[::2] == [
        ("organizations", "succeeded", 6, 5, 0, 1), ("tickets", "succeeded", 48, 47, 0, 1),
    ]  # fmt: skip
    with store.transaction() as session:
        rows = session.execute(
            select(QuarantinedRecord.record_key, QuarantinedRecord.payload,
                   QuarantinedRecord.reason).order_by(QuarantinedRecord.record_key)
        ).all()  # fmt: skip
    (account, account_payload, account_reason), (ticket, ticket_payload, ticket_reason) = rows
    assert (account, account_payload["organization_fields"]) == ("account:4", {"region": "EMEA"})
    assert account_reason == "segment: Field required"
    assert (ticket, ticket_payload["ticket"]["priority"]) == ("ticket:3", "critical")
    assert ticket_payload["metric_set"]["ticket_id"] == 3
    assert ticket_reason.startswith("priority: Input should be 'p1', 'p2', 'p3' or 'p4'")

    # A default segment for organizations without one lets it in.
    again = sync(store, connector(fake, base_url, default_segment="smb"),
                 streams=["organizations"], full_refresh=True)  # fmt: skip
    assert counts(again) == [("organizations", "succeeded", 6, 6, 0, 0)]
    with store.transaction() as session:
        assert session.scalar(select(Account.segment).where(Account.external_id == "4")) == "smb"


def test_a_rate_limit_is_waited_out_by_the_engine_and_never_by_zenpy(
    store: Store, fake: FakeZendesk, base_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []
    monkeypatch.setattr(zenpy.lib.api, "sleep", slept.append)  # zenpy's own wait on a 429
    zendesk = connector(fake, base_url)
    limited = {"error": "APIRateLimitExceeded", "description": "Rate limit for ticket exports"}
    fake.fail_next(429, limited, path="/incremental/tickets/", headers={"Retry-After": "3600"})
    (tickets,) = [stream for stream in zendesk.streams() if stream.name == "tickets"]
    with pytest.raises(TransientError) as raised:
        list(tickets.read(None))
    assert raised.value.retry_after == 3600.0
    assert str(raised.value) == "Zendesk answered 429 to /api/v2/incremental/tickets/cursor.json"

    fake.fail_next(429, limited, path="/incremental/tickets/", headers={"Retry-After": "3600"})
    report = sync(store, zendesk, streams=["tickets"], max_wait=0.01)  # the hour waits 0.01 s
    (stream,) = report.streams
    assert (stream.status, stream.retries, stream.read, stream.written) == ("succeeded", 1, 48, 48)
    assert slept == []


def test_a_server_error_resumes_from_the_last_checkpoint(
    store: Store, fake: FakeZendesk, base_url: str
) -> None:
    # The third page fails once: the first two are committed with their checkpoints by then.
    fake.fail_next(503, {"error": "ServiceUnavailable"}, path="/incremental/tickets/", after=2)
    report = sync(store, connector(fake, base_url), streams=["tickets"], batch_size=PAGE,
                  max_wait=0.01)  # fmt: skip
    (stream,) = report.streams
    assert (stream.status, stream.retries, stream.read, stream.written) == ("succeeded", 1, 48, 48)
    pages = requested(fake, "/incremental/tickets/cursor.json")
    assert pages[2] == pages[3]  # the page that failed, asked again from its checkpoint
    assert len(pages) == 11


def test_a_repeated_cursor_fails_its_stream_alone(
    store: Store, fake: FakeZendesk, base_url: str
) -> None:
    fake.stall("tickets")
    report = sync(store, connector(fake, base_url))
    assert [(s.stream, s.status) for s in report.streams] == [
        ("organizations", "succeeded"), ("users", "succeeded"), ("tickets", "failed"),
        ("satisfaction_ratings", "succeeded"),
    ]  # fmt: skip
    error = report.streams[2].error or ""
    assert error.startswith("zendesk tickets: the source returned the page cursor '")
    assert error.endswith("' twice; stopping rather than reading the same pages forever")
    with store.transaction() as session:  # the two pages read before are kept
        assert session.scalar(select(func.count()).select_from(Ticket)) == 2 * PAGE


def test_check_names_what_to_fix(fake: FakeZendesk, base_url: str) -> None:
    with pytest.raises(ConnectorError, match=r"refused the credentials \(.*Couldn't authenticate"
                       r".*\): check CS_ZENDESK_EMAIL and CS_ZENDESK_TOKEN"):  # fmt: skip
        connector(fake, base_url, token="wrong").check()
    with pytest.raises(ConnectorError, match=r"agent2@support\.example\.com is a Zendesk agent, "
                       "and the incremental exports are for administrators"):  # fmt: skip
        connector(fake, base_url, email=fake.staff_email(2)).check()
    fake.fail_next(404, {"error": {"title": "No help desk at nope.zendesk.com"}}, path="/me")
    with pytest.raises(ConnectorError, match=f"^{re.escape(base_url)} has no /api/v2/users/me"
                       r"\.json \(.*No help desk.*\): check CS_ZENDESK_SUBDOMAIN and "
                       "CS_ZENDESK_BASE_URL$"):  # fmt: skip
        connector(fake, base_url).check()
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed = f"https://127.0.0.1:{unused.getsockname()[1]}"
    with pytest.raises(ConnectorError, match=f"^cannot connect to Zendesk at {closed[8:]}: .*; "
                       "check CS_ZENDESK_SUBDOMAIN and CS_ZENDESK_BASE_URL"):  # fmt: skip
        connector(fake, closed).check()
    oauth = ZendeskConnector(ZendeskSettings(subdomain="acme", base_url=base_url,
                                             oauth_token=fake.oauth_token))  # fmt: skip
    oauth.check()
    assert fake.requests[-1].headers["authorization"] == f"Bearer {fake.oauth_token}"


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"SUBDOMAIN": "Acme", "EMAIL": "admin@acme.example.com",
                        "TOKEN": "s3cret", "DEFAULT_SEGMENT": "Mid-Market"}.items():  # fmt: skip
        monkeypatch.setenv(f"CS_ZENDESK_{name}", value)
    zendesk = ZendeskConnector.from_environment()
    assert isinstance(zendesk, ZendeskConnector)
    assert isinstance(zendesk.settings, ZendeskSettings)
    assert (zendesk.settings.subdomain, zendesk.settings.default_segment) == ("acme", "mid_market")
    assert "s3cret" not in repr(zendesk.settings)
    # Without a base URL, the requests go where zenpy addresses them: Zendesk itself.
    users = zendesk.client.zenpy.users
    assert zendesk.client._url(users, users.endpoint.me()) == (
        "https://acme.zendesk.com/api/v2/users/me.json"
    )

    problems: dict[tuple[str, str | None], str] = {
        ("SUBDOMAIN", "acme.zendesk.com"): "CS_ZENDESK_SUBDOMAIN: Value error, "
        "'acme.zendesk.com' is not a Zendesk subdomain: give 'acme' for acme.zendesk.com",
        ("BASE_URL", "https://proxy.example.com/zendesk"): "CS_ZENDESK_BASE_URL: Value error, "
        "give the scheme, host and port only",
        ("EMAIL", None): "set CS_ZENDESK_EMAIL: the address of the administrator whose API token",
        ("OAUTH_TOKEN", "t0ken"): "set CS_ZENDESK_TOKEN or CS_ZENDESK_OAUTH_TOKEN, not both",
        ("TOKEN", ""): "set CS_ZENDESK_EMAIL and CS_ZENDESK_TOKEN (an API token), or "
        "CS_ZENDESK_OAUTH_TOKEN",
    }  # fmt: skip
    for (variable, setting), message in problems.items():
        with monkeypatch.context() as patch:
            if setting is None:
                patch.delenv(f"CS_ZENDESK_{variable}")
            else:
                patch.setenv(f"CS_ZENDESK_{variable}", setting)
            expected = re.escape(f"connector 'zendesk' is not configured: {message}")
            with pytest.raises(ConfigurationError, match=f"^{expected}"):
                ZendeskConnector.from_environment()


# Killed with SIGKILL mid-stream, then run again: the same store as a run never interrupted.

RUNNER = """
from cs_core import Store, sync
from cs_connectors import ZendeskConnector
sync(Store({url!r}), ZendeskConnector.from_environment(), batch_size=4)
"""


def _contents(store: Store) -> dict[str, list[Any]]:
    """What a sync stored, without the store's own row ids (a rerun may number rows anew)."""
    owner = "LEFT JOIN accounts a ON a.id = r.account_id"
    queries = {
        "accounts": "SELECT external_id, name, domain, segment FROM accounts",
        "contacts": f"SELECT r.external_id, r.email, r.name, a.external_id FROM contacts r {owner}",
        "tickets": "SELECT r.external_id, a.external_id, r.priority, r.status, r.channel, "
        f"r.opened_at, r.first_response_at, r.solved_at, r.replies, r.satisfaction "
        f"FROM tickets r {owner}",
        "survey_responses": "SELECT r.external_id, a.external_id, r.score, r.comment, "
        f"r.respondent_email, r.responded_at FROM survey_responses r {owner}",
        "quarantined_records": "SELECT connector, stream, record_key, payload, reason "
        "FROM quarantined_records",
        "sync_state": "SELECT connector, stream, state FROM sync_state",
    }
    with store.transaction() as session:
        return {
            table: sorted((tuple(row) for row in session.execute(text(query))), key=repr)
            for table, query in queries.items()
        }


def test_a_sync_killed_mid_stream_resumes_to_the_same_store(
    store_factory: Callable[[], Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeZendesk(organizations=6, users=30, tickets=200, page_size=20, tls=True)
    fake.change("tickets", 100, priority="critical")  # one to quarantine, past the kill
    interrupted, reference = store_factory(), store_factory()
    with fake.running() as base_url:
        settings = {"CS_ZENDESK_SUBDOMAIN": "acme", "CS_ZENDESK_EMAIL": fake.staff_email(1),
                    "CS_ZENDESK_TOKEN": fake.token, "CS_ZENDESK_BASE_URL": base_url,
                    "REQUESTS_CA_BUNDLE": str(fake.ca_bundle)}  # fmt: skip
        for name, value in settings.items():
            monkeypatch.setenv(name, value)
        fake.page_delay = 0.05  # time to kill it between two pages, or two batches of a page
        url = interrupted.engine.url.render_as_string(hide_password=False)
        killed = subprocess.Popen([sys.executable, "-c", RUNNER.format(url=url)])
        deadline = time.monotonic() + 60
        stored = 0
        while stored < 40 and time.monotonic() < deadline:
            time.sleep(0.01)
            with interrupted.transaction() as session:
                stored = session.scalar(select(func.count()).select_from(Ticket)) or 0
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        with interrupted.transaction() as session:
            assert 40 <= (session.scalar(select(func.count()).select_from(Ticket)) or 0) < 199
        fake.page_delay = 0.0
        for store in (interrupted, reference):
            assert not sync(store, ZendeskConnector.from_environment()).failed
    assert _contents(interrupted) == _contents(reference)
    assert len(_contents(reference)["tickets"]) == 199
