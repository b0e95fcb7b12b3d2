"""The files connector: accounts, contacts and contracts from CSV or JSON-lines exports.

A folder holds ``accounts``, ``contacts`` and ``contracts`` as ``.csv`` or ``.jsonl`` files
(any may be missing). Columns are the record fields (``external_id``, ``name``, ``segment``…);
a mapping file renames a source's own columns to them. Each file is read in order and
checkpointed by row; a file that changed since the last sync is read again from the top (its
rows are upserted, so nothing is duplicated).
"""

from __future__ import annotations

import csv
import hashlib
import json
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from cs_core import (
    AccountRecord,
    Candidate,
    Checkpoint,
    Connector,
    ConnectorError,
    ConnectorSettings,
    ContactRecord,
    ContractRecord,
    Record,
    Stream,
    StreamItem,
)

__all__ = ["FilesConnector", "FilesSettings"]

_CHECKPOINT_EVERY = 1000


class FilesSettings(ConnectorSettings):
    """``CS_FILES_PATH`` (the folder), ``CS_FILES_SOURCE`` (the records' source name) and
    ``CS_FILES_MAPPING`` (a TOML file of column names, optional)."""

    path: Path
    source: str = "files"
    mapping: Path | None = None


def _fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _rows(path: Path) -> Iterator[dict[str, Any]]:
    if path.suffix == ".csv":
        with path.open(newline="", encoding="utf-8-sig") as file:
            yield from csv.DictReader(file)
        return
    with path.open(encoding="utf-8") as file:
        for number, line in enumerate(file, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                row = {"_line": number, "_raw": line.rstrip("\n"), "_error": str(error)}
            yield row if isinstance(row, dict) else {"_line": number, "_raw": line.rstrip("\n")}


class _FileStream(Stream):
    model: ClassVar[type[Record]]
    json_fields: ClassVar[tuple[str, ...]] = ()
    """Columns whose cells hold JSON."""

    def __init__(self, settings: FilesSettings, mapping: Mapping[str, str]) -> None:
        self.settings = settings
        self.mapping = mapping

    def file(self) -> Path | None:
        for suffix in (".csv", ".jsonl"):
            candidate = self.settings.path / f"{self.name}{suffix}"
            if candidate.is_file():
                return candidate
        return None

    def fields(self, row: Mapping[str, Any]) -> dict[str, Any]:
        fields: dict[str, Any] = {"source": self.settings.source}
        for column, value in row.items():
            if value is None or (isinstance(value, str) and not value.strip()):
                continue  # an empty cell is a missing value: the field's default applies
            fields[self.mapping.get(column, column)] = value
        return fields

    def read(self, state: Mapping[str, Any] | None) -> Iterator[StreamItem]:
        path = self.file()
        if path is None:
            yield Checkpoint({})
            return
        fingerprint = _fingerprint(path)
        done = int(state["rows"]) if state and state.get("fingerprint") == fingerprint else 0
        position = 0
        for position, row in enumerate(_rows(path), start=1):
            if position <= done:
                continue
            yield Candidate(self.model, self.prepare(self.fields(row)), row)
            if position % _CHECKPOINT_EVERY == 0:
                yield Checkpoint({"file": path.name, "fingerprint": fingerprint, "rows": position})
        yield Checkpoint(
            {"file": path.name, "fingerprint": fingerprint, "rows": max(position, done)}
        )

    def prepare(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Turn cells that hold structure (JSON lists and objects) into values; a cell that is
        not JSON stays text, for validation to refuse and the engine to quarantine."""
        for name in self.json_fields:
            if isinstance(fields.get(name), str):
                try:
                    fields[name] = json.loads(fields[name])
                except json.JSONDecodeError:
                    continue
        return fields


class _Accounts(_FileStream):
    name: ClassVar[str] = "accounts"
    model = AccountRecord
    json_fields = ("usage_limits",)


class _Contacts(_FileStream):
    name: ClassVar[str] = "contacts"
    model = ContactRecord


class _Contracts(_FileStream):
    name: ClassVar[str] = "contracts"
    model = ContractRecord
    json_fields = ("products",)


class FilesConnector(Connector):
    """Accounts, contacts and contracts from CSV or JSON-lines files in a folder."""

    name: ClassVar[str] = "files"
    settings_model: ClassVar[type[ConnectorSettings]] = FilesSettings

    @property
    def files_settings(self) -> FilesSettings:
        return self.settings_as(FilesSettings)

    def mapping(self) -> dict[str, dict[str, str]]:
        """Per stream, source column name to record field."""
        path = self.files_settings.mapping
        if path is None:
            return {}
        try:
            document = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ConnectorError(
                f"mapping file {path} does not exist: fix CS_FILES_MAPPING"
            ) from None
        except tomllib.TOMLDecodeError as error:
            raise ConnectorError(f"mapping file {path} is not valid TOML: {error}") from None
        unknown = sorted(set(document) - {"accounts", "contacts", "contracts"})
        if unknown or not all(isinstance(table, dict) for table in document.values()):
            raise ConnectorError(
                f"mapping file {path}: give tables [accounts], [contacts] and [contracts] of "
                f'"Source column" = "field" (unknown: {", ".join(unknown) or "none"})'
            )
        return {
            stream: {str(k): str(v) for k, v in table.items()} for stream, table in document.items()
        }

    def check(self) -> None:
        folder = self.files_settings.path
        if not folder.is_dir():
            raise ConnectorError(
                f"{folder} is not a folder: set CS_FILES_PATH to the export folder"
            )
        self.mapping()
        if not any(stream.file() for stream in self._streams()):
            raise ConnectorError(
                f"{folder} holds none of accounts, contacts, contracts (.csv or .jsonl)"
            )

    def _streams(self) -> list[_FileStream]:
        mapping = self.mapping()
        return [kind(self.files_settings, mapping.get(kind.name, {}))
                for kind in (_Accounts, _Contacts, _Contracts)]  # fmt: skip

    def streams(self) -> Sequence[Stream]:
        return self._streams()
