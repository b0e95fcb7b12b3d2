"""The analytics connector: product events from Segment, Mixpanel or Amplitude exports.

Every format becomes a Segment message (the one internal event shape), then a usage event:

- **Segment**: JSON lines of Segment messages (``track``, ``identify``, ``group``, ``page``).
- **Mixpanel** raw export: JSON lines ``{"event", "properties": {"time", "distinct_id",
  "$insert_id", …}}``; ``$insert_id`` is the message id, so re-exported events are dropped.
- **Amplitude** export: zip files of gzipped JSON lines (``event_type``, ``user_id``,
  ``device_id``, ``event_time``, ``event_properties``, ``groups``, ``$insert_id`` or ``uuid``).

Events are tied to accounts by their group (``context.groupId``, Mixpanel's group property, or
Amplitude's ``groups``). Files are read in name order and checkpointed by file and line.
"""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

from cs_core import (
    Candidate,
    Checkpoint,
    Connector,
    ConnectorError,
    ConnectorSettings,
    Stream,
    StreamItem,
    UsageEventRecord,
    segment_fields,
)

__all__ = ["AnalyticsConnector", "AnalyticsSettings", "amplitude_to_segment", "mixpanel_to_segment"]

_CHECKPOINT_EVERY = 1000


class AnalyticsSettings(ConnectorSettings):
    """``CS_ANALYTICS_PATH`` (a file or folder of exports), ``CS_ANALYTICS_FORMAT``,
    ``CS_ANALYTICS_SOURCE`` (the events' source name), ``CS_ANALYTICS_ACCOUNT_SOURCE`` (whose
    ids the groups carry) and ``CS_ANALYTICS_GROUP_KEY`` (the group property of Mixpanel and
    Amplitude events that names the account)."""

    path: Path
    format: Literal["segment", "mixpanel", "amplitude"] = "segment"
    source: str = "segment"
    account_source: str | None = None
    group_key: str = "company_id"


def mixpanel_to_segment(event: Mapping[str, Any], group_key: str) -> dict[str, Any]:
    """A Mixpanel raw-export event as a Segment track message."""
    properties = dict(event.get("properties") or {})
    moment = properties.pop("time", None)
    message: dict[str, Any] = {
        "type": "track",
        "event": event.get("event"),
        "messageId": properties.pop("$insert_id", None),
        "userId": properties.pop("distinct_id", None),
        "timestamp": None if moment is None else datetime.fromtimestamp(float(moment), UTC),
        "properties": properties,
    }
    group = properties.get(group_key)
    if group is not None:
        message["context"] = {"groupId": str(group)}
    return message


def amplitude_to_segment(event: Mapping[str, Any], group_key: str) -> dict[str, Any]:
    """An Amplitude export event as a Segment track message."""
    groups = event.get("groups") or {}
    group = groups.get(group_key) if isinstance(groups, Mapping) else None
    if isinstance(group, list):
        group = group[0] if group else None
    moment = event.get("event_time")
    message: dict[str, Any] = {
        "type": "track",
        "event": event.get("event_type"),
        "messageId": event.get("$insert_id") or event.get("uuid"),
        "userId": event.get("user_id"),
        "anonymousId": event.get("device_id"),
        # Amplitude writes "2026-11-02 10:00:00.123000" in UTC, without a zone.
        "timestamp": None if moment is None else f"{str(moment).replace(' ', 'T')}+00:00",
        "properties": dict(event.get("event_properties") or {}),
    }
    if group is not None:
        message["context"] = {"groupId": str(group)}
    return message


def _lines(path: Path) -> Iterator[str]:
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            for member in sorted(archive.namelist()):
                with archive.open(member) as raw:
                    if not member.endswith(".gz"):
                        yield from io.TextIOWrapper(raw, encoding="utf-8")
                        continue
                    with gzip.open(raw) as unzipped:
                        yield from io.TextIOWrapper(unzipped, encoding="utf-8")
        return
    with path.open(encoding="utf-8") as file:
        yield from file


class _Events(Stream):
    name: ClassVar[str] = "events"

    def __init__(self, settings: AnalyticsSettings) -> None:
        self.settings = settings

    def files(self) -> list[Path]:
        path = self.settings.path
        if path.is_file():
            return [path]
        suffix = ".zip" if self.settings.format == "amplitude" else ".jsonl"
        return sorted(path.glob(f"*{suffix}"))

    def message(self, line: str) -> tuple[dict[str, Any], Mapping[str, Any]]:
        """The Segment message of a line, and the line's own payload."""
        try:
            payload = json.loads(line)
        except json.JSONDecodeError as error:
            return {}, {"line": line.rstrip("\n"), "error": str(error)}
        if not isinstance(payload, dict):
            return {}, {"line": line.rstrip("\n")}
        match self.settings.format:
            case "mixpanel":
                return mixpanel_to_segment(payload, self.settings.group_key), payload
            case "amplitude":
                return amplitude_to_segment(payload, self.settings.group_key), payload
        return payload, payload

    def read(self, state: Mapping[str, Any] | None) -> Iterator[StreamItem]:
        done = set((state or {}).get("done", ()))
        current, skip = (state or {}).get("file"), int((state or {}).get("line", 0))
        for path in self.files():
            if path.name in done:
                continue
            start = skip if path.name == current else 0
            number = 0
            for number, line in enumerate(_lines(path), start=1):
                if number <= start or not line.strip():
                    continue
                message, payload = self.message(line)
                fields = segment_fields(message, source=self.settings.source,
                                        account_source=self.settings.account_source)  # fmt: skip
                yield Candidate(UsageEventRecord, fields, payload)
                if number % _CHECKPOINT_EVERY == 0:
                    yield Checkpoint({"done": sorted(done), "file": path.name, "line": number})
            done.add(path.name)
            yield Checkpoint({"done": sorted(done), "file": None, "line": 0})


class AnalyticsConnector(Connector):
    """Product events from Segment, Mixpanel or Amplitude export files."""

    name: ClassVar[str] = "analytics"
    settings_model: ClassVar[type[ConnectorSettings]] = AnalyticsSettings

    @property
    def analytics_settings(self) -> AnalyticsSettings:
        return self.settings_as(AnalyticsSettings)

    def check(self) -> None:
        settings = self.analytics_settings
        if not settings.path.exists():
            raise ConnectorError(f"{settings.path} does not exist: set CS_ANALYTICS_PATH")
        if not _Events(settings).files():
            wanted = ".zip" if settings.format == "amplitude" else ".jsonl"
            raise ConnectorError(f"{settings.path} holds no {settings.format} exports ({wanted})")

    def streams(self) -> Sequence[Stream]:
        return [_Events(self.analytics_settings)]
