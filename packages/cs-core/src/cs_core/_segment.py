"""Product analytics in the Segment Spec: the one event shape every analytics source becomes.

:func:`segment_fields` turns a Segment message (``track``, ``identify``, ``group``, ``page``,
``screen``) into the fields of a :class:`UsageEventRecord`: ``messageId`` is its id (a message
delivered twice is stored once), ``groupId`` (a ``group`` call's, or ``context.groupId``) names
the account. :func:`ingest_segment` validates and stores a batch of messages at once, updating the
daily rollups; cs-server's Segment-compatible endpoint calls it, connectors use the same fields.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from cs_core._errors import InvalidArgumentError
from cs_core._records import UsageEventRecord
from cs_core._store import Store
from cs_core._writes import write_records

__all__ = ["IngestReport", "ingest_segment", "segment_fields"]


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def segment_fields(
    message: Mapping[str, Any], *, source: str, account_source: str | None = None
) -> dict[str, Any]:
    """The :class:`UsageEventRecord` fields of a Segment message (not yet validated)."""
    kind = str(message.get("type", "track")).lower()
    context = message.get("context") or {}
    group = message.get("groupId") if kind == "group" else None
    group = group or (context.get("groupId") if isinstance(context, Mapping) else None)
    traits = message.get("traits") or {}
    if kind == "track":
        name = message.get("event")
    elif kind in ("page", "screen"):
        name = message.get("name") or kind
    else:
        name = kind
    fields: dict[str, Any] = {
        "source": source,
        "external_id": message.get("messageId"),
        "type": kind,
        "event": _text(name),
        "user_id": _text(message.get("userId")),
        "anonymous_id": _text(message.get("anonymousId")),
        "timestamp": message.get("timestamp") or message.get("sentAt"),
        "properties": dict(message.get("properties") or traits or {}),
    }
    if group is not None:
        fields["account_external_id"] = str(group)
        fields["account_source"] = account_source
    return {name: value for name, value in fields.items() if value is not None}


@dataclass(frozen=True, slots=True)
class IngestReport:
    """What a batch of messages came to."""

    received: int
    stored: int
    """New events stored; a ``messageId`` seen before is not stored again."""
    rejected: dict[int, str] = field(default_factory=dict)
    """Per position in the batch, why a message was refused."""


def ingest_segment(
    store: Store,
    messages: Iterable[object],
    *,
    source: str = "segment",
    account_source: str | None = None,
) -> IngestReport:
    """Validate ``messages`` (parsed JSON, of any shape) and store the valid ones in one
    transaction; report the rest.

    ``account_source`` is the source whose ids ``groupId`` carries (default: ``source``).
    """
    batch = list(messages)
    if not batch:
        raise InvalidArgumentError("an empty batch: send at least one message")
    records: list[UsageEventRecord] = []
    rejected: dict[int, str] = {}
    for position, message in enumerate(batch):
        if not isinstance(message, Mapping):
            rejected[position] = "a message must be a JSON object"
            continue
        try:
            records.append(
                UsageEventRecord.model_validate(
                    segment_fields(message, source=source, account_source=account_source)
                )
            )
        except ValidationError as error:
            rejected[position] = "; ".join(
                f"{'.'.join(str(part) for part in problem['loc']) or 'message'}: {problem['msg']}"
                for problem in error.errors()
            ).replace("external_id", "messageId")
    stored = 0
    if records:
        with store.transaction() as session:
            stored = write_records(session, records).written.get(UsageEventRecord.kind, 0)
    return IngestReport(received=len(batch), stored=stored, rejected=rejected)
