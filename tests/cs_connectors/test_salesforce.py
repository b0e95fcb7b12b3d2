"""The Salesforce connector end to end: the real simple-salesforce against FakeSalesforce over
TLS. Mapping, incremental reads, pages, deletions, faults, quarantine, settings, logins, and a
sync killed mid-stream that resumes to exactly what an uninterrupted one stores."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import certifi
import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from cs_fakes.salesforce import API_REQUEST_LIMIT, REQUEST_LIMIT_EXCEEDED, FakeSalesforce
from requests.adapters import BaseAdapter
from simple_salesforce.exceptions import SalesforceMalformedRequest
from sqlalchemy import func, select, text

from cs_connectors import SalesforceConnector, SalesforceSettings
from cs_core import (
    Account,
    ConfigurationError,
    ConnectorError,
    Contact,
    Contract,
    Opportunity,
    QuarantinedRecord,
    Store,
    TransientError,
    sync,
    sync_state,
)


@pytest.fixture(autouse=True)
def _a_ca_bundle_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on many machines: requests would let it replace the connector's own bundle."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())


@pytest.fixture
def org(tmp_path: Path) -> Iterator[FakeSalesforce]:
    """A small org read in pages of 5: three SystemModstamp ties a second cross page ends."""
    fake = FakeSalesforce(accounts=12, contacts=20, opportunities=10, contracts=8, page_size=5)
    with fake.running(tmp_path):
        yield fake


def salesforce(org: FakeSalesforce, **settings: Any) -> SalesforceConnector:
    """A connector signed in to ``org`` with its session, trusting its CA."""
    values = {"instance_url": org.base_url, "session_id": org.session_id,
              "ca_bundle": org.ca_bundle} | settings  # fmt: skip
    return SalesforceConnector(SalesforceSettings(**values))


def count(store: Store, model: type) -> int:
    with store.transaction() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def account_ids(store: Store) -> dict[str, int]:
    """The store's account id of each Salesforce account Id."""
    with store.transaction() as session:
        rows = session.execute(select(Account.external_id, Account.id)).all()
    return dict(rows)


def test_a_full_sync_maps_every_object_page_by_page(store: Store, org: FakeSalesforce) -> None:
    report = sync(store, salesforce(org))
    assert [(s.stream, s.status, s.read, s.written, s.quarantined) for s in report.streams] == [
        ("accounts", "succeeded", 12, 12, 0), ("contacts", "succeeded", 20, 20, 0),
        ("opportunities", "succeeded", 10, 10, 0), ("contracts", "succeeded", 8, 8, 0),
    ]  # fmt: skip
    ids = account_ids(store)
    with store.transaction() as session:
        accounts = session.execute(
            select(Account.external_id, Account.name, Account.domain, Account.segment,
                   Account.owner, Account.parent_id)
            .where(Account.external_id.in_([org.record_id("Account", i) for i in (9, 10)]))
            .order_by(Account.external_id)
        ).all()  # fmt: skip
        contacts = session.execute(
            select(Contact.email, Contact.name, Contact.title, Contact.account_id)
            .where(Contact.external_id == org.record_id("Contact", 13))
        ).all()  # fmt: skip
        opportunities = session.execute(
            select(Opportunity.type, Opportunity.stage, Opportunity.amount,
                   Opportunity.close_date, Opportunity.outcome, Opportunity.account_id)
            .order_by(Opportunity.external_id).limit(5)
        ).all()  # fmt: skip
        contracts = session.execute(
            select(Contract.start_date, Contract.end_date, Contract.arr, Contract.status,
                   Contract.account_id).order_by(Contract.external_id).limit(6)
        ).all()  # fmt: skip
    a = [ids[org.record_id("Account", i)] for i in range(12)]
    assert [tuple(row) for row in accounts] == [
        (org.record_id("Account", 9), "Company 9", None, "smb", "owner2@cs.example.com", None),
        (org.record_id("Account", 10), "Company 10", "company10.example.com", "enterprise",
         "owner3@cs.example.com", a[0]),
    ]  # fmt: skip
    assert [tuple(row) for row in contacts] == [
        ("pat.lee13@company1.example.com", "Pat13 Lee13", "IT Admin", a[1])
    ]
    assert [tuple(row) for row in opportunities] == [
        ("new", "Prospecting", Decimal("1000.00"), date(2024, 1, 1), "open", a[0]),
        ("expansion", "Negotiation/Review", Decimal("2371.25"), date(2024, 1, 2), "open", a[1]),
        ("renewal", "Closed Won", Decimal("3742.50"), date(2024, 1, 3), "won", a[2]),
        ("renewal", "Closed Lost", Decimal("5113.75"), date(2024, 1, 4), "lost", a[3]),
        ("renewal", "Prospecting", Decimal("6484.00"), date(2024, 1, 5), "open", a[4]),
    ]
    assert [tuple(row) for row in contracts] == [
        (date(2023, 1, 1), date(2023, 12, 31), Decimal("12000.00"), "active", a[0]),
        (date(2023, 1, 2), date(2025, 1, 1), Decimal("12997.00"), "active", a[1]),
        (date(2023, 1, 3), date(2026, 1, 2), Decimal("13994.00"), "draft", a[2]),
        (date(2023, 1, 4), date(2024, 1, 3), Decimal("14991.00"), "draft", a[3]),
        (date(2023, 1, 5), date(2025, 1, 4), Decimal("15988.00"), "expired", a[4]),
        (date(2023, 1, 6), date(2026, 1, 5), Decimal("16985.00"), "cancelled", a[5]),
    ]
    # One queryAll per object, then the root-relative query locators of the pages after it.
    queries = [r.query["q"] for r in org.requests if "q" in r.query]
    assert [r.path for r in org.requests if "q" in r.query] == [
        "/services/data/v59.0/queryAll/"
    ] * 4
    assert queries[0] == (
        "SELECT Id, IsDeleted, SystemModstamp, Name, Website, Owner.Email, ParentId, "
        "CS_Segment__c FROM Account ORDER BY SystemModstamp, Id"
    )
    pages = [r.path.rsplit("-", 1)[1] for r in org.requests if "/query/01g" in r.path]
    assert pages == ["5", "10", "5", "10", "15", "5", "5"]
    assert sync_state(store, "salesforce", "accounts") == {
        "cursor": "2024-01-01T00:00:03.000+0000",
        "seen_at_cursor": [org.record_id("Account", i) for i in (9, 10, 11)],
    }


def test_an_incremental_sync_reads_only_what_changed(store: Store, org: FakeSalesforce) -> None:
    sync(store, salesforce(org))
    # The records at each cursor are read again (>=) and skipped as seen: nothing new, nothing.
    assert [s.read for s in sync(store, salesforce(org)).streams] == [0, 0, 0, 0]
    org.modify("Account", org.record_id("Account", 2), {"Name": "Renamed Co"})
    org.modify("Account", org.record_id("Account", 7), {"Website": "acme.example.org"})
    org.modify("Contact", org.record_id("Contact", 4), {"Title": "CTO"})
    newco = org.add("Account", {"Name": "Newco", "CS_Segment__c": "PLG"})
    org.add("Contact", {"AccountId": newco, "Email": "kim@newco.example.com"})
    asked = len(org.requests)
    report = sync(store, salesforce(org))
    assert [(s.stream, s.read, s.written) for s in report.streams] == [
        ("accounts", 3, 3), ("contacts", 2, 2), ("opportunities", 0, 0), ("contracts", 0, 0),
    ]  # fmt: skip
    queries = [r.query["q"] for r in org.requests[asked:] if "q" in r.query]
    assert queries[0].endswith(
        "FROM Account WHERE SystemModstamp >= 2024-01-01T00:00:03Z ORDER BY SystemModstamp, Id"
    )
    with store.transaction() as session:
        names = session.execute(
            select(Account.name, Account.domain)
            .where(Account.external_id.in_([org.record_id("Account", i) for i in (2, 7)]))
            .order_by(Account.external_id)
        ).all()  # fmt: skip
        title = session.scalar(
            select(Contact.title).where(Contact.external_id == org.record_id("Contact", 4))
        )
    assert [tuple(row) for row in names] == [
        ("Renamed Co", "company2.example.com"), ("Company 7", "acme.example.org"),
    ]  # fmt: skip
    assert title == "CTO"
    with store.transaction() as session:
        owner = session.scalar(
            select(Account.name)
            .join(Contact, Contact.account_id == Account.id)
            .where(Contact.email == "kim@newco.example.com")
        )
    assert owner == "Newco"
    assert count(store, Account) == 13


def test_deleted_records_leave_the_store(store: Store, org: FakeSalesforce) -> None:
    sync(store, salesforce(org))
    gone_account, gone_contact = org.record_id("Account", 11), org.record_id("Contact", 0)
    org.delete("Account", gone_account)
    org.delete("Contact", gone_contact)
    report = sync(store, salesforce(org))
    assert [(s.stream, s.read, s.written, s.deleted) for s in report.streams] == [
        ("accounts", 1, 0, 1), ("contacts", 1, 0, 1), ("opportunities", 0, 0, 0),
        ("contracts", 0, 0, 0),
    ]  # fmt: skip
    assert gone_account not in account_ids(store)
    assert (count(store, Account), count(store, Contact)) == (11, 19)


def test_the_fake_answers_like_salesforce(org: FakeSalesforce) -> None:
    client = salesforce(org).client()
    gone = org.record_id("Account", 3)
    org.delete("Account", gone)
    soql = "SELECT Id, IsDeleted FROM Account ORDER BY SystemModstamp, Id"
    live = list(client.query_all_iter(soql))
    every = list(client.query_all_iter(soql, include_deleted=True))
    assert (len(live), len(every)) == (11, 12)
    assert every[-1] == {
        "attributes": {"type": "Account", "url": f"/services/data/v59.0/sobjects/Account/{gone}"},
        "Id": gone,
        "IsDeleted": True,
    }  # fmt: skip
    assert client.api_usage["api-usage"].total == API_REQUEST_LIMIT
    for wrong in ("SELECT Id FROM Account", "SELECT Id FROM Account ORDER BY Name",
                  "SELECT Id FROM Account WHERE SystemModstamp >= '2024-01-01' "
                  "ORDER BY SystemModstamp, Id"):  # fmt: skip
        with pytest.raises(SalesforceMalformedRequest) as refused:
            client.query(wrong)
        problems: Any = refused.value.content  # the library puts the decoded JSON there
        assert problems[0]["errorCode"] in {"MALFORMED_QUERY", "INVALID_FIELD"}


RATE_LIMITED = [{"message": "Too many requests", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
UNAVAILABLE = [{"message": "Service unavailable", "errorCode": "SERVER_UNAVAILABLE"}]


@pytest.mark.parametrize("status", [429, 503])
def test_a_page_refused_for_a_while_is_read_again_from_the_checkpoint(
    store: Store, org: FakeSalesforce, status: int
) -> None:
    # The second page fails: the retry starts from the checkpoint after the first.
    org.fail_next(status, UNAVAILABLE, path="/query/01g", headers={"Retry-After": "0"})
    (accounts,) = sync(store, salesforce(org), streams=["accounts"]).streams
    assert (accounts.status, accounts.retries, accounts.read, accounts.written) == (
        "succeeded", 1, 12, 12,
    )  # fmt: skip
    assert count(store, Account) == 12


@pytest.mark.parametrize(
    ("headers", "wait"),
    [({"Retry-After": "7"}, 7.0), ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),
     ({}, None)],
)  # fmt: skip
def test_retry_after_goes_to_the_engine(
    org: FakeSalesforce, headers: dict[str, str], wait: float | None
) -> None:
    org.fail_next(429, RATE_LIMITED, headers=headers)
    accounts = salesforce(org).streams()[0]
    with pytest.raises(TransientError, match=r"^reading Account records: Salesforce answered 429 "
                       r"\(REQUEST_LIMIT_EXCEEDED: Too many requests\)") as raised:  # fmt: skip
        list(accounts.read(None))
    assert raised.value.retry_after == wait


def test_server_errors_are_retried_until_the_server_answers(
    store: Store, org: FakeSalesforce
) -> None:
    org.fail_next(500, b"<html>Internal Server Error</html>", path="/queryAll/")
    org.fail_next(502, b"Bad Gateway", path="/queryAll/")
    (contacts,) = sync(store, salesforce(org), streams=["contacts"], max_wait=0.01).streams
    assert (contacts.status, contacts.retries, contacts.read) == ("succeeded", 2, 20)
    for _ in range(2):
        org.fail_next(504, b"Gateway Timeout", path="/queryAll/")
    report = sync(store, salesforce(org), streams=["contacts"], attempts=2, max_wait=0.01)
    assert report.streams[0].error == (
        "reading Contact records: Salesforce answered 504 (Gateway Timeout) (after 2 attempts)"
    )


def test_an_exhausted_api_allowance_is_waited_out(store: Store, org: FakeSalesforce) -> None:
    org.fail_next(403, REQUEST_LIMIT_EXCEEDED, path="/queryAll/")
    (accounts,) = sync(store, salesforce(org), streams=["accounts"], max_wait=0.01).streams
    assert (accounts.status, accounts.retries, accounts.written) == ("succeeded", 1, 12)
    for _ in range(2):
        org.fail_next(403, REQUEST_LIMIT_EXCEEDED, path="/queryAll/")
    (again,) = sync(store, salesforce(org), streams=["accounts"], attempts=2, full_refresh=True,
                    max_wait=0.01).streams  # fmt: skip
    assert again.status == "failed"
    assert again.error == (
        "reading Account records: Salesforce answered 403 (REQUEST_LIMIT_EXCEEDED: TotalRequests "
        "Limit exceeded.): the org has used up its API requests, which Salesforce counts over 24 "
        "hours; the sync resumes from its checkpoint once there is room again (after 2 attempts)"
    )


def test_records_that_do_not_fit_are_quarantined_with_their_payload(
    store: Store, org: FakeSalesforce
) -> None:
    no_segment = org.record_id("Account", 5)
    org.modify("Account", no_segment, {"CS_Segment__c": None})
    org.modify("Contact", org.record_id("Contact", 3), {"Email": "not an address"})
    org.modify("Opportunity", org.record_id("Opportunity", 1), {"Type": "Partner Referral"})
    report = sync(store, salesforce(org))
    assert [(s.stream, s.written, s.quarantined) for s in report.streams] == [
        ("accounts", 11, 1), ("contacts", 19, 1), ("opportunities", 9, 1), ("contracts", 8, 0),
    ]  # fmt: skip
    with store.transaction() as session:
        rejected = {
            key: (payload, reason)
            for key, payload, reason in session.execute(
                select(
                    QuarantinedRecord.record_key,
                    QuarantinedRecord.payload,
                    QuarantinedRecord.reason,
                )
            )
        }
    payload, reason = rejected[f"account:{no_segment}"]
    assert payload == {
        "attributes": {"type": "Account",
                       "url": f"/services/data/v59.0/sobjects/Account/{no_segment}"},
        "Id": no_segment, "IsDeleted": False, "SystemModstamp": "2024-01-01T00:00:08.000+0000",
        "Name": "Company 5", "Website": "https://www.company5.example.com/",
        "Owner": {"attributes": {"type": "User",
                                 "url": "/services/data/v59.0/sobjects/User/005000000000005AAA"},
                  "Email": "owner5@cs.example.com"},
        "ParentId": None, "CS_Segment__c": None,
    }  # fmt: skip
    assert reason == "segment: Field required"
    contact_reason = rejected[f"contact:{org.record_id('Contact', 3)}"][1]
    assert contact_reason.startswith("email: value is not a valid email address")
    opportunity_reason = rejected[f"opportunity:{org.record_id('Opportunity', 1)}"][1]
    assert opportunity_reason == "type: Input should be 'new', 'renewal' or 'expansion'"
    # A default segment takes the account in; field names are case-insensitive, as in SOQL.
    fixed = salesforce(org, segment_field="cs_segment__c", default_segment="SMB")
    (accounts,) = sync(store, fixed, streams=["accounts"], full_refresh=True).streams
    assert (accounts.written, accounts.quarantined) == (12, 0)
    with store.transaction() as session:
        segment = session.scalar(select(Account.segment).where(Account.external_id == no_segment))
    assert segment == "smb"


def test_a_field_the_org_lacks_fails_its_stream_alone(store: Store, org: FakeSalesforce) -> None:
    report = sync(
        store, salesforce(org, segment_field="Tier__c"), streams=["accounts", "contracts"]
    )
    assert [(s.stream, s.status) for s in report.streams] == [
        ("accounts", "failed"), ("contracts", "succeeded"),
    ]  # fmt: skip
    assert report.streams[0].error is not None
    assert report.streams[0].error.startswith(
        "reading Account records: Salesforce answered 400 (INVALID_FIELD: No such column "
        "'Tier__c' on entity 'Account'."
    )
    assert report.streams[0].error.endswith(
        "CS_SALESFORCE_SEGMENT_FIELD and CS_SALESFORCE_ARR_FIELD must name fields that exist and "
        "that the signed-in user can read"
    )


SESSION = {"CS_SALESFORCE_INSTANCE_URL": "https://acme.my.salesforce.com",
           "CS_SALESFORCE_SESSION_ID": "00D!session"}  # fmt: skip


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({}, "connector 'salesforce' has no sign-in: set CS_SALESFORCE_INSTANCE_URL, "
             "CS_SALESFORCE_SESSION_ID (a session); or CS_SALESFORCE_USERNAME, "
             "CS_SALESFORCE_PASSWORD, CS_SALESFORCE_SECURITY_TOKEN (a password login); or "
             "CS_SALESFORCE_USERNAME, CS_SALESFORCE_CONSUMER_KEY, CS_SALESFORCE_PRIVATE_KEY "
             "(a JWT bearer login)"),
        ({"CS_SALESFORCE_SESSION_ID": "00D!session"},
         "connector 'salesforce' signs in with a session, which also needs "
         "CS_SALESFORCE_INSTANCE_URL"),
        ({"CS_SALESFORCE_USERNAME": "ann@acme.example.com", "CS_SALESFORCE_PASSWORD": "pw",
          "CS_SALESFORCE_SECURITY_TOKEN": " "},
         "signs in with a password login, which also needs CS_SALESFORCE_SECURITY_TOKEN"),
        ({"CS_SALESFORCE_CONSUMER_KEY": "3MVG9"},
         "signs in with a JWT bearer login, which also needs CS_SALESFORCE_USERNAME, "
         "CS_SALESFORCE_PRIVATE_KEY"),
        ({**SESSION, "CS_SALESFORCE_PASSWORD": "pw"},
         "connector 'salesforce' is given more than one sign-in, a session "
         "(CS_SALESFORCE_INSTANCE_URL, CS_SALESFORCE_SESSION_ID) and a password login "
         "(CS_SALESFORCE_PASSWORD): configure exactly one and unset the others"),
        ({**SESSION, "CS_SALESFORCE_USERNAME": "ann@acme.example.com"},
         "signs in with a session: CS_SALESFORCE_USERNAME belongs to a login and is not used; "
         "unset it"),
        ({**SESSION, "CS_SALESFORCE_INSTANCE_URL": "http://acme.my.salesforce.com"},
         "CS_SALESFORCE_INSTANCE_URL: Value error, 'http://acme.my.salesforce.com' is not an "
         "https:// URL"),
        ({**SESSION, "CS_SALESFORCE_API_VERSION": "v59.0"},
         "CS_SALESFORCE_API_VERSION: Value error, 'v59.0' is not an API version; give one as "
         "59.0, without a v"),
        ({**SESSION, "CS_SALESFORCE_SEGMENT_FIELD": "Customer Tier"},
         "CS_SALESFORCE_SEGMENT_FIELD: Value error, 'Customer Tier' is not a field's API name"),
        ({**SESSION, "CS_SALESFORCE_DEFAULT_SEGMENT": "galactic"},
         "CS_SALESFORCE_DEFAULT_SEGMENT: Input should be 'enterprise', 'mid_market', 'smb' or "
         "'plg'"),
        ({**SESSION, "CS_SALESFORCE_DOMAIN": "https://login.salesforce.com"},
         "CS_SALESFORCE_DOMAIN: Value error, 'https://login.salesforce.com' is not a login "
         "domain"),
        ({**SESSION, "CS_SALESFORCE_CA_BUNDLE": "/nonexistent/ca.pem"},
         "CS_SALESFORCE_CA_BUNDLE: Path does not point to a file"),
    ],
)  # fmt: skip
def test_settings_name_what_to_fix(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], message: str
) -> None:
    for name in [name for name in os.environ if name.startswith("CS_SALESFORCE_")]:
        monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as raised:
        SalesforceConnector.from_environment()
    assert message in str(raised.value)


def test_a_session_from_the_environment_stays_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SESSION.items():
        monkeypatch.setenv(name, value)
    connector = SalesforceConnector.from_environment()
    assert isinstance(connector.settings, SalesforceSettings)
    assert "00D!session" not in repr(connector.settings)
    assert [stream.name for stream in connector.streams()] == [
        "accounts", "contacts", "opportunities", "contracts",
    ]  # fmt: skip


def test_check_says_what_to_fix(org: FakeSalesforce) -> None:
    salesforce(org).check()
    assert org.requests[-1].path == "/services/data/v59.0/limits/"
    stale = (r"^checking the connection to Salesforce: Salesforce answered 401 "
             r"\(INVALID_SESSION_ID: Session expired or invalid\): the session expired or is "
             r"wrong; set a fresh CS_SALESFORCE_SESSION_ID")  # fmt: skip
    with pytest.raises(ConnectorError, match=stale):
        salesforce(org, session_id="00D!stale").check()
    untrusted = (r"the TLS certificate of 127\.0\.0\.1:\d+ cannot be verified .* set "
                 r"CS_SALESFORCE_CA_BUNDLE to that CA's PEM bundle$")  # fmt: skip
    with pytest.raises(ConnectorError, match=untrusted):
        salesforce(org, ca_bundle=None).check()
    org.fail_next(404, [{"errorCode": "NOT_FOUND", "message": "The requested resource does not "
                         "exist"}])  # fmt: skip
    with pytest.raises(ConnectorError, match=r"check that CS_SALESFORCE_API_VERSION \(31\.0\) is a "
                       r"version the org supports$"):  # fmt: skip
        salesforce(org, api_version="31.0").check()
    org.fail_next(403, [{"errorCode": "API_DISABLED_FOR_ORG", "message": "API is not enabled for "
                         "this Organization or Partner"}])  # fmt: skip
    with pytest.raises(ConnectorError, match="give the signed-in user the API Enabled permission"):
        salesforce(org).check()
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    with pytest.raises(
        TransientError, match=rf"Salesforce at 127\.0\.0\.1:{closed} did not answer"
    ):
        salesforce(org, instance_url=f"https://127.0.0.1:{closed}").check()


# The login flows go to https://login.salesforce.com, which no local server can be: a transport
# adapter answers there for it, with a session of the fake org, like the real login does.

SOAP_LOGIN = """<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
    xmlns="urn:partner.soap.sforce.com"><soapenv:Body><loginResponse><result>
<serverUrl>{base_url}/services/Soap/u/59.0/00Dfake</serverUrl>
<sessionId>{session_id}</sessionId>
</result></loginResponse></soapenv:Body></soapenv:Envelope>"""
LOCKED_OUT = "Invalid username, password, security token; or user locked out."
SOAP_FAULT = f"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
    xmlns:sf="urn:fault.partner.soap.sforce.com"><soapenv:Body><soapenv:Fault>
<faultcode>sf:INVALID_LOGIN</faultcode><detail><sf:LoginFault>
<sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode>
<sf:exceptionMessage>{LOCKED_OUT}</sf:exceptionMessage>
</sf:LoginFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"""


class LoginServer(BaseAdapter):
    """``login.salesforce.com``: the SOAP and OAuth logins, signing in to ``org``."""

    def __init__(self, org: FakeSalesforce, *, refuse: bool = False) -> None:
        super().__init__()
        self.org = org
        self.refuse = refuse
        self.bodies: list[tuple[str, str]] = []

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        body = request.body.decode() if isinstance(request.body, bytes) else str(request.body)
        self.bodies.append((str(request.url), body))
        answer = requests.Response()
        answer.request, answer.url, answer.status_code = request, str(request.url), 200
        if self.refuse:
            answer.status_code, content = 500, SOAP_FAULT
        elif request.path_url == "/services/oauth2/token":
            content = json.dumps({"access_token": self.org.session_id,
                                  "instance_url": self.org.base_url})  # fmt: skip
        else:
            content = SOAP_LOGIN.format(base_url=self.org.base_url,
                                        session_id=self.org.session_id)  # fmt: skip
        answer._content = content.encode()
        return answer

    def close(self) -> None:
        """Nothing to release."""


class SalesforceBehindLogin(SalesforceConnector):
    login_server: LoginServer

    def http_session(self) -> requests.Session:
        session = super().http_session()
        session.mount("https://login.salesforce.com/", self.login_server)
        return session


def behind_login(org: FakeSalesforce, *, refuse: bool = False, **settings: Any
                 ) -> SalesforceBehindLogin:  # fmt: skip
    connector = SalesforceBehindLogin(SalesforceSettings(ca_bundle=org.ca_bundle, **settings))
    connector.login_server = LoginServer(org, refuse=refuse)
    return connector


def test_a_password_login_signs_in_and_again_when_the_session_expires(
    store: Store, org: FakeSalesforce
) -> None:
    connector = behind_login(org, username="ann@acme.example.com", password="hunter2",
                             security_token="T0KEN")  # fmt: skip
    connector.check()
    ((url, body),) = connector.login_server.bodies
    assert url == "https://login.salesforce.com/services/Soap/u/59.0"
    assert "<n1:username>ann@acme.example.com</n1:username>" in body
    assert "<n1:password>hunter2T0KEN</n1:password>" in body
    org.session_id = "00D!renewed"  # the session the connector holds has expired
    (accounts,) = sync(store, connector, streams=["accounts"]).streams
    assert (accounts.status, accounts.written) == ("succeeded", 12)
    assert len(connector.login_server.bodies) == 2
    refused = behind_login(org, refuse=True, username="ann@acme.example.com", password="wrong",
                           security_token="T0KEN")  # fmt: skip
    with pytest.raises(ConnectorError, match=r"^signing in to Salesforce: Salesforce refused the "
                       r"login \(Authentication failed \(code: INVALID_LOGIN\): Invalid username, "
                       r"password, security token; or user locked out\.\); check "
                       r"CS_SALESFORCE_USERNAME, CS_SALESFORCE_PASSWORD, "
                       r"CS_SALESFORCE_SECURITY_TOKEN, CS_SALESFORCE_DOMAIN$"):  # fmt: skip
        refused.check()


def test_a_jwt_bearer_login_signs_with_the_private_key(org: FakeSalesforce) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    connector = behind_login(org, username="ann@acme.example.com", consumer_key="3MVG9.app",
                             private_key=pem)  # fmt: skip
    connector.check()
    ((url, body),) = connector.login_server.bodies
    assert url == "https://login.salesforce.com/services/oauth2/token"
    form = parse_qs(body)
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    claims = jwt.decode(form["assertion"][0], key.public_key(), algorithms=["RS256"],
                        audience="https://login.salesforce.com")  # fmt: skip
    assert (claims["iss"], claims["sub"]) == ("3MVG9.app", "ann@acme.example.com")


# Killed with SIGKILL mid-stream, then run again: the same store as a run never interrupted.
# The killed sync runs in a process of its own, configured from the environment like `cs sync`;
# the fake and the syncs that finish run in this one.

BATCH = 100
RUNNER = f"""
from cs_core import Store, sync
from cs_connectors import SalesforceConnector
sync(Store({{url!r}}), SalesforceConnector.from_environment(), batch_size={BATCH})
"""


def _start(store: Store, org: FakeSalesforce) -> subprocess.Popen[bytes]:
    url = store.engine.url.render_as_string(hide_password=False)
    environment = os.environ | {"CS_SALESFORCE_INSTANCE_URL": org.base_url,
                                "CS_SALESFORCE_SESSION_ID": org.session_id,
                                "CS_SALESFORCE_CA_BUNDLE": str(org.ca_bundle)}  # fmt: skip
    return subprocess.Popen([sys.executable, "-c", RUNNER.format(url=url)], env=environment)


CONTENTS = {
    "accounts": "SELECT external_id, name, domain, segment, owner, parent_external_id, "
                "(SELECT p.external_id FROM accounts p WHERE p.id = a.parent_id) FROM accounts a",
    "contacts": "SELECT c.external_id, c.email, c.name, c.title, a.external_id "
                "FROM contacts c LEFT JOIN accounts a ON a.id = c.account_id",
    "opportunities": "SELECT o.external_id, o.type, o.amount, o.stage, o.close_date, "
                     "o.outcome, a.external_id "
                     "FROM opportunities o LEFT JOIN accounts a ON a.id = o.account_id",
    "contracts": "SELECT c.external_id, c.start_date, c.end_date, c.arr, c.status, a.external_id "
                 "FROM contracts c LEFT JOIN accounts a ON a.id = c.account_id",
    "account_identities": "SELECT i.source, i.external_id, i.method, a.external_id "
                          "FROM account_identities i JOIN accounts a ON a.id = i.account_id",
    "quarantined_records": "SELECT connector, stream, record_key, payload, reason "
                           "FROM quarantined_records",
    "sync_state": "SELECT connector, stream, state FROM sync_state",
}  # fmt: skip


def _contents(store: Store) -> dict[str, list[Any]]:
    with store.transaction() as session:
        return {
            table: sorted((tuple(row) for row in session.execute(text(query))), key=repr)
            for table, query in CONTENTS.items()
        }


def test_a_sync_killed_mid_stream_resumes_to_the_same_store(
    store_factory: Callable[[], Store], tmp_path: Path
) -> None:
    org = FakeSalesforce(accounts=150, contacts=60, opportunities=30, contracts=30,
                         page_size=25, page_delay=0.1)  # fmt: skip
    org.modify("Contact", org.record_id("Contact", 7), {"Email": "not an address"})
    org.delete("Account", org.record_id("Account", 42))
    interrupted, reference = store_factory(), store_factory()
    with org.running(tmp_path):
        killed = _start(interrupted, org)
        deadline = time.monotonic() + 60
        while count(interrupted, Account) < 50 and time.monotonic() < deadline:
            time.sleep(0.01)
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        assert 50 <= count(interrupted, Account) < 149  # it really was cut short
        org.page_delay = 0.0
        for store in (interrupted, reference):
            report = sync(store, salesforce(org), batch_size=BATCH)
            assert not report.failed
    contents = _contents(interrupted)
    assert contents == _contents(reference)
    assert (len(contents["accounts"]), len(contents["contacts"])) == (149, 59)
    assert len(contents["quarantined_records"]) == 1
