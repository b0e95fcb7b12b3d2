"""The files connector: CSV and JSON-lines exports, a column mapping, quarantine, resumption."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from cs_connectors import FilesConnector, FilesSettings
from cs_core import (
    Account,
    ConnectorError,
    Contact,
    Contract,
    QuarantinedRecord,
    Store,
    sync,
    sync_state,
)

ACCOUNTS_CSV = """Account Id,Company,Tier,Seats,Owner Email
001,Acme Corp,Mid-Market,40,ann@cs.example.com
002,Globex,Enterprise,,bob@cs.example.com
003,Initech,Galactic,5,ann@cs.example.com
"""

MAPPING = """
[accounts]
"Account Id" = "external_id"
"Company" = "name"
"Tier" = "segment"
"Seats" = "licensed_seats"
"Owner Email" = "owner"
"""


@pytest.fixture
def export(tmp_path: Path) -> FilesConnector:
    (tmp_path / "accounts.csv").write_text(ACCOUNTS_CSV)
    (tmp_path / "mapping.toml").write_text(MAPPING)
    contacts = [
        {"external_id": "c1", "account_external_id": "001", "email": "dana@acme.example.com",
         "is_champion": True},
        {"external_id": "c2", "account_external_id": "002", "email": "not an address"},
    ]  # fmt: skip
    (tmp_path / "contacts.jsonl").write_text(
        "\n".join(json.dumps(row) for row in contacts) + "\n{broken json\n"
    )
    (tmp_path / "contracts.csv").write_text(
        "external_id,account_external_id,start_date,end_date,arr,renewal_track,products\n"
        'k1,001,2026-01-01,2027-01-01,48000,standard,"[{""name"": ""Core"", ""seats"": 40}]"\n'
    )
    return FilesConnector(
        FilesSettings(path=tmp_path, source="crm", mapping=tmp_path / "mapping.toml")
    )


def test_an_export_is_synced_with_its_mapping(store: Store, export: FilesConnector) -> None:
    export.check()
    report = sync(store, export)
    assert [(s.stream, s.read, s.written, s.quarantined) for s in report.streams] == [
        ("accounts", 3, 2, 1), ("contacts", 3, 1, 2), ("contracts", 1, 1, 0),
    ]  # fmt: skip
    with store.transaction() as session:
        accounts = session.execute(
            select(Account.source, Account.external_id, Account.name, Account.segment,
                   Account.licensed_seats, Account.owner).order_by(Account.external_id)
        ).all()  # fmt: skip
        (contact,) = session.execute(select(Contact.email, Contact.is_champion)).all()
        (products,) = session.scalars(select(Contract.products)).all()
        reasons = dict(session.execute(select(QuarantinedRecord.record_key,
                                              QuarantinedRecord.reason)).all())  # fmt: skip
    assert [tuple(a) for a in accounts] == [
        ("crm", "001", "Acme Corp", "mid_market", 40, "ann@cs.example.com"),
        ("crm", "002", "Globex", "enterprise", None, "bob@cs.example.com"),
    ]
    assert tuple(contact) == ("dana@acme.example.com", True)
    assert products == [{"name": "Core", "seats": 40}]
    assert reasons["account:003"].startswith("segment: Input should be 'enterprise'")
    assert reasons["contact:c2"].startswith("email: value is not a valid email address")
    state = sync_state(store, "files", "accounts")
    assert state is not None
    assert (state["file"], state["rows"], len(state["fingerprint"])) == ("accounts.csv", 3, 64)


def test_a_changed_file_is_read_again_and_an_unchanged_one_is_not(
    store: Store, export: FilesConnector
) -> None:
    sync(store, export)
    assert [s.read for s in sync(store, export).streams] == [0, 0, 0]
    folder = export.files_settings.path
    (folder / "accounts.csv").write_text(ACCOUNTS_CSV.replace("Globex", "Globex Inc"))
    report = sync(store, export, streams=["accounts"])
    assert report.streams[0].read == 3
    with store.transaction() as session:
        assert session.scalar(select(Account.name).where(Account.external_id == "002")) == (
            "Globex Inc"
        )
        assert len(session.scalars(select(Account.id)).all()) == 2


def test_check_says_what_to_fix(tmp_path: Path) -> None:
    with pytest.raises(ConnectorError, match="is not a folder: set CS_FILES_PATH"):
        FilesConnector(FilesSettings(path=tmp_path / "missing")).check()
    with pytest.raises(ConnectorError, match="holds none of accounts, contacts, contracts"):
        FilesConnector(FilesSettings(path=tmp_path)).check()
    (tmp_path / "accounts.csv").write_text("external_id\n")
    (tmp_path / "map.toml").write_text("[deals]\nx = 'y'\n")
    with pytest.raises(ConnectorError, match=r"give tables \[accounts\].*unknown: deals"):
        FilesConnector(FilesSettings(path=tmp_path, mapping=tmp_path / "map.toml")).check()


def test_a_cell_that_is_not_json_is_quarantined(store: Store, tmp_path: Path) -> None:
    (tmp_path / "contracts.csv").write_text(
        "external_id,account_external_id,start_date,end_date,arr,products\n"
        "k1,001,2026-01-01,2027-01-01,100,[not json\n"
    )
    (report,) = sync(
        store, FilesConnector(FilesSettings(path=tmp_path)), streams=["contracts"]
    ).streams
    assert (report.status, report.written, report.quarantined) == ("succeeded", 0, 1)
    with store.transaction() as session:
        (reason,) = session.scalars(select(QuarantinedRecord.reason))
    assert reason.startswith("products: Input should be a valid")
