"""What the connector does when Intercom, the network or the configuration fails."""

from __future__ import annotations

import socket
import time
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import func, select

from cs_core import (
    ConfigurationError,
    ConnectorError,
    Contact,
    Store,
    Ticket,
    TransientError,
    sync,
)
from cs_intercom import IntercomConnector

if TYPE_CHECKING:
    from conftest import Connect, FakeIntercom

T0 = 1_790_000_000
DAY = 86_400


def count(store: Store, table: type) -> int:
    with store.transaction() as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


def one_customer(intercom: FakeIntercom, conversations: int = 3) -> None:
    """A company, its user, and that user's conversations, all changed at T0."""
    intercom.add_company("c1", updated_at=T0, custom_attributes={"segment": "smb"})
    intercom.add_contact("u1", updated_at=T0, companies=("c1",))
    for number in range(conversations):
        intercom.add_conversation(f"v{number}", contact="u1", updated_at=T0)


def test_a_rate_limit_is_retried_after_the_wait_intercom_asks_for(
    store: Store, intercom: FakeIntercom, connect: Connect
) -> None:
    one_customer(intercom)
    intercom.fail("POST /conversations/search", 429, code="rate_limit_exceeded",
                  headers={"Retry-After": "0"})  # fmt: skip
    conversations = sync(store, connect()).streams[2]
    assert (conversations.status, conversations.retries, conversations.written) == (
        "succeeded", 1, 3)  # fmt: skip


def test_without_retry_after_the_wait_is_until_the_rate_limit_window_resets(
    intercom: FakeIntercom, connect: Connect
) -> None:
    one_customer(intercom)
    reset_at = int(time.time()) + 30
    intercom.fail("POST /contacts/search", 429, code="rate_limit_exceeded",
                  headers={"X-RateLimit-Reset": str(reset_at)})  # fmt: skip
    contacts = connect().streams()[1]
    with pytest.raises(TransientError, match="rate limit") as raised:
        list(contacts.read(None))
    assert raised.value.retry_after is not None
    assert 28 <= raised.value.retry_after <= 30


# --8<-- [start:server-error]
def test_a_server_error_resumes_from_the_last_checkpoint_and_duplicates_nothing(
    store: Store, intercom: FakeIntercom, connect: Connect
) -> None:
    intercom.add_company("c1", updated_at=T0, custom_attributes={"segment": "smb"})
    for number in range(5):  # one update time for all: the retry resumes among ties
        intercom.add_contact(f"u{number}", updated_at=T0, companies=("c1",))
    intercom.fail("POST /contacts/search", 503, after=1)  # the second page
    contacts = sync(store, connect(), max_wait=0).streams[1]
    assert (contacts.status, contacts.retries, contacts.written) == ("succeeded", 1, 5)
    searches = intercom.sent("POST /contacts/search")
    assert len(searches) == 5  # page 1, the failed page 2, then pages 1 to 3 from the checkpoint
    resumed = searches[2].body
    assert "starting_after" not in resumed["pagination"]  # a new search, from the cursor
    assert resumed["query"]["value"][1] == {"field": "updated_at", "operator": ">",
                                            "value": T0 - DAY}  # fmt: skip
    assert count(store, Contact) == 5


# --8<-- [end:server-error]


def test_a_scroll_that_expired_is_started_again(
    store: Store, intercom: FakeIntercom, connect: Connect
) -> None:
    for number in range(5):
        intercom.add_company(f"c{number}", updated_at=T0)
    intercom.fail("GET /companies/scroll", 404, after=1, code="not_found")
    companies = sync(store, connect(), streams=["companies"], max_wait=0).streams[0]
    # Two companies before the scroll expired, then all five from a new scroll.
    assert (companies.status, companies.retries, companies.written) == ("succeeded", 1, 7)
    assert "scroll_param" not in intercom.sent("GET /companies/scroll")[2].query


def test_a_scroll_already_open_is_retried_once_it_has_expired(
    intercom: FakeIntercom, connect: Connect
) -> None:
    intercom.fail("GET /companies/scroll", 400, code="scroll_exists")
    companies = connect().streams()[0]
    with pytest.raises(TransientError, match="another scroll") as raised:
        list(companies.read(None))
    assert raised.value.retry_after == 60


def test_a_missing_permission_fails_the_stream_saying_what_to_grant(
    store: Store, intercom: FakeIntercom, connect: Connect
) -> None:
    one_customer(intercom)
    intercom.fail("POST /conversations/search", 403, code="api_plan_restricted")
    streams = sync(store, connect()).streams
    assert [stream.status for stream in streams] == ["succeeded", "succeeded", "failed"]
    assert streams[2].retries == 0  # waiting would not help
    assert streams[2].error is not None
    assert "permissions to read users, companies and conversations" in streams[2].error
    assert count(store, Ticket) == 0


def test_check_passes_against_a_reachable_workspace(
    intercom: FakeIntercom, connect: Connect
) -> None:
    connect().check()
    assert intercom.sent("GET /me")


def test_check_names_the_token_variable_when_intercom_refuses_the_token(
    connect: Connect,
) -> None:
    with pytest.raises(ConnectorError, match="set CS_INTERCOM_ACCESS_TOKEN"):
        connect(access_token="expired").check()


def test_check_names_the_address_variable_when_intercom_cannot_be_reached(
    connect: Connect,
) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(ConnectorError, match="CS_INTERCOM_BASE_URL") as raised:
        connect(base_url=f"http://127.0.0.1:{port}", timeout="2").check()
    assert not isinstance(raised.value, TransientError)  # check() reports, it does not retry


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("access_token", None, "CS_INTERCOM_ACCESS_TOKEN"),
        ("access_token", " ", "CS_INTERCOM_ACCESS_TOKEN"),
        ("base_url", "api.eu.intercom.io", "CS_INTERCOM_BASE_URL"),
        ("page_size", "500", "CS_INTERCOM_PAGE_SIZE"),
        ("default_segment", "gold", "CS_INTERCOM_DEFAULT_SEGMENT"),
        ("company_id_source", "Sales Force", "CS_INTERCOM_COMPANY_ID_SOURCE"),
    ],
)
def test_a_bad_setting_is_named_before_anything_is_read(
    connect: Connect, variable: str, value: str | None, named: str
) -> None:
    with pytest.raises(ConfigurationError, match=named):
        connect(**{variable: value})


def test_the_access_token_is_never_shown(connect: Connect) -> None:
    connector = connect(access_token="s3cr3t-t0ken")
    assert isinstance(connector, IntercomConnector)
    assert "s3cr3t-t0ken" not in repr(connector.settings)
    assert "s3cr3t-t0ken" not in str(connector.intercom_settings)
