"""The domain records refuse bad data with a message naming the record and the field."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from pydantic import ValidationError

from cs_core import (
    AccountRecord,
    AccountRef,
    ContactRecord,
    ContractRecord,
    InvalidRecordError,
    Segment,
    SurveyKind,
    SurveyResponseRecord,
    TicketRecord,
    UsageEventRecord,
    parse_records,
)

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)


def account(**fields: object) -> dict[str, object]:
    return {"source": "crm", "external_id": "A1", "name": "Acme", "segment": "smb", **fields}


@pytest.mark.parametrize(
    ("spelling", "segment"),
    [
        ("Mid-Market", Segment.MID_MARKET),
        ("mid market", Segment.MID_MARKET),
        ("MID_MARKET", Segment.MID_MARKET),
        ("Enterprise", Segment.ENTERPRISE),
        ("PLG", Segment.PLG),
    ],
)
def test_segments_are_read_whatever_their_spelling(spelling: str, segment: Segment) -> None:
    assert AccountRecord.model_validate(account(segment=spelling)).segment is segment


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"segment": "Strategic"}, "segment", "'enterprise', 'mid_market', 'smb' or 'plg'"),
        ({"arr": "-5"}, "arr", "must not be negative"),
        ({"arr": "10.001"}, "arr", "at most two decimal places"),
        ({"currency": "usd"}, "currency", "should match pattern"),
        ({"domain": "not a domain"}, "domain", "is not a domain name"),
        ({"licensed_seats": -1}, "licensed_seats", "greater than or equal to 0"),
        (
            {"contract_start": "2026-01-01", "contract_end": "2025-01-01"},
            "(record)",
            "contract_end is before contract_start",
        ),
        ({"parent_external_id": "A1"}, "(record)", "names the account itself"),
        ({"source": "Sales Force"}, "source", "should match pattern"),
        ({"colour": "red"}, "colour", "Extra inputs are not permitted"),
    ],
)
def test_bad_accounts_are_refused_naming_record_and_field(
    fields: dict[str, object], field: str, message: str
) -> None:
    with pytest.raises(InvalidRecordError) as caught:
        parse_records(AccountRecord, [account(**fields)])
    problem = caught.value.problems[0]
    assert problem.field == field
    assert message in problem.message
    # The label quotes the row as given, so the user can find it even when the key is the problem.
    expected_label = f"account {fields.get('source', 'crm')}:A1"
    assert problem.record == expected_label
    assert str(caught.value).startswith(f"{expected_label}: field {field!r}")


def test_rows_without_a_key_are_named_by_position() -> None:
    with pytest.raises(InvalidRecordError) as caught:
        parse_records(AccountRecord, [account(), {"name": "No key", "segment": "smb"}])
    assert {problem.record for problem in caught.value.problems} == {"account #1"}


def test_a_batch_reports_every_problem_at_once() -> None:
    rows = [account(), account(external_id="A2", arr="-1"), account(external_id="A3", segment="x")]
    with pytest.raises(InvalidRecordError) as caught:
        parse_records(AccountRecord, rows)
    assert [(p.record, p.field) for p in caught.value.problems] == [
        ("account crm:A2", "arr"),
        ("account crm:A3", "segment"),
    ]
    assert "(and 1 more problem(s))" in str(caught.value)


def test_money_is_decimal_and_mrr_is_arr_over_twelve() -> None:
    record = AccountRecord.model_validate(account(arr="120000.00"))
    assert record.arr == Decimal("120000.00")
    assert record.mrr == Decimal("10000.00")
    assert AccountRecord.model_validate(account()).mrr is None


def test_domains_are_normalised() -> None:
    assert AccountRecord.model_validate(account(domain="WWW.Acme.COM")).domain == "acme.com"


def test_same_as_must_name_another_source() -> None:
    with pytest.raises(ValidationError, match="same_as must name an account of another source"):
        AccountRecord.model_validate(account(same_as={"source": "crm", "external_id": "X"}))
    linked = AccountRecord.model_validate(
        account(same_as={"source": "hubspot", "external_id": "9"})
    )
    assert linked.same_as == AccountRef(source="hubspot", external_id="9")


def test_malformed_email_is_refused() -> None:
    with pytest.raises(InvalidRecordError) as caught:
        parse_records(
            ContactRecord, [{"source": "crm", "external_id": "C1", "email": "bob-at-acme"}]
        )
    assert caught.value.problems[0].field == "email"
    assert caught.value.problems[0].record == "contact crm:C1"


def test_naive_datetimes_are_refused_and_aware_ones_become_utc() -> None:
    base = {"source": "zd", "external_id": "T1", "priority": "P1", "status": "open"}
    with pytest.raises(InvalidRecordError) as caught:
        parse_records(TicketRecord, [{**base, "opened_at": datetime(2026, 1, 1, 9)}])  # noqa: DTZ001
    assert caught.value.problems[0].field == "opened_at"
    assert "timezone" in caught.value.problems[0].message
    paris = timezone(timedelta(hours=1))
    ticket = TicketRecord.model_validate(
        {**base, "opened_at": datetime(2026, 1, 1, 9, tzinfo=paris)}
    )
    assert ticket.opened_at == datetime(2026, 1, 1, 8, tzinfo=UTC)
    assert ticket.opened_at.tzinfo is UTC


def test_ticket_times_must_follow_its_opening() -> None:
    with pytest.raises(ValidationError, match="solved_at is before opened_at"):
        TicketRecord(
            source="zd",
            external_id="T1",
            priority="p2",
            status="solved",
            opened_at=NOW,
            solved_at=NOW - timedelta(hours=1),
        )


def test_contract_end_must_follow_start() -> None:
    with pytest.raises(ValidationError, match="end_date must be after start_date"):
        ContractRecord(
            source="crm",
            external_id="K1",
            start_date=date(2026, 1, 1),
            end_date=date(2026, 1, 1),
            arr=Decimal(100),
        )


@pytest.mark.parametrize(
    ("survey", "score", "valid"),
    [
        ("nps", 0, True),
        ("nps", 10, True),
        ("nps", 11, False),
        ("csat", 0, False),
        ("csat", 5, True),
    ],
)
def test_survey_scores_follow_their_scale(survey: str, score: int, valid: bool) -> None:
    row = {
        "source": "survey",
        "external_id": "S1",
        "survey": survey,
        "score": score,
        "responded_at": NOW,
    }
    if valid:
        assert SurveyResponseRecord.model_validate(row).survey is SurveyKind(survey)
    else:
        with pytest.raises(ValidationError, match="score is from"):
            SurveyResponseRecord.model_validate(row)


def test_usage_events_follow_the_segment_spec() -> None:
    event = UsageEventRecord(
        source="segment",
        external_id="msg-1",
        user_id="u1",
        event="Report Created",
        timestamp=NOW,
        account_external_id="acme",
    )
    assert event.message_id == "msg-1"
    assert event.account_ref == AccountRef(source="segment", external_id="acme")
    with pytest.raises(ValidationError, match="a track event needs an event name"):
        UsageEventRecord(source="segment", external_id="m2", user_id="u1", timestamp=NOW)
    with pytest.raises(ValidationError, match="needs user_id or anonymous_id"):
        UsageEventRecord(source="segment", external_id="m3", event="x", timestamp=NOW)


def test_account_source_without_an_account_is_refused() -> None:
    with pytest.raises(ValidationError, match="account_external_id is missing"):
        ContactRecord(source="zd", external_id="U1", email="a@b.com", account_source="crm")


def test_records_are_immutable() -> None:
    record = AccountRecord.model_validate(account())
    with pytest.raises(ValidationError, match="frozen"):
        record.name = "Other"  # type: ignore[misc]
