"""Streams read through Intercom's search endpoints, incrementally, oldest change first.

A search filters on ``updated_at`` and sorts by it, ascending, so the stream's cursor is the
``updated_at`` of the last record it yielded: the next read asks for the records changed since.
Intercom's search knows only ``>`` and pages by an opaque ``starting_after`` cursor; the stream
asks for a little more than it needs (``> cursor - resolution``), and ``CursorTracker`` drops
what it has already seen, so records that share an update time across a page or a sync
boundary are neither lost nor duplicated.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from cs_core import (
    Candidate,
    Checkpoint,
    ConnectorError,
    CursorTracker,
    PageGuard,
    Stream,
    StreamItem,
)
from cs_intercom._client import IntercomClient
from cs_intercom._json import as_mapping
from cs_intercom._settings import IntercomSettings

__all__ = ["SearchStream"]

_OLDEST_CHANGE_FIRST = {"field": "updated_at", "order": "ascending"}


class SearchStream(Stream):
    """A stream of one search endpoint; subclasses say which, and make the candidates."""

    path: ClassVar[str]
    """The search endpoint, ``/contacts/search``."""
    results: ClassVar[str]
    """The key of the records in a page of results (``data``, ``conversations``)."""
    resolution: ClassVar[int]
    """The precision, in seconds, at which the search compares ``updated_at``."""

    def __init__(self, settings: IntercomSettings, source: str) -> None:
        self.settings = settings
        self.source = source

    def filters(self) -> list[dict[str, Any]]:
        """Conditions every record of the stream meets, besides its update time."""
        return []

    @abstractmethod
    def candidate(self, record: Mapping[str, Any], client: IntercomClient) -> Candidate:
        """The record to store for an Intercom record (``client`` can fetch what it names)."""

    def read(self, state: Mapping[str, Any] | None) -> Iterator[StreamItem]:
        cursor = CursorTracker.from_state(state)
        query = self.query(cursor.value)  # fixed for the read: its pages are those of one search
        guard = PageGuard(f"Intercom {self.path}")
        with IntercomClient(self.settings) as client:
            starting_after: str | None = None
            while True:
                pagination: dict[str, Any] = {"per_page": self.settings.page_size}
                if starting_after is not None:
                    pagination["starting_after"] = guard.next(starting_after)
                page = client.post(
                    self.path,
                    {"query": query, "sort": _OLDEST_CHANGE_FIRST, "pagination": pagination},
                )
                for record in self._records(page):
                    if cursor.is_new(self._changed_at(record), str(record.get("id"))):
                        yield self.candidate(record, client)
                # Committed with the page's records: a retry or the next sync starts here.
                yield Checkpoint(cursor.state)
                starting_after = _next_page(page)
                if starting_after is None:
                    return

    def query(self, cursor: str | None) -> dict[str, Any]:
        """The search for records changed at or after ``cursor`` (``None``: every record).

        ``>`` at the search's resolution, from one resolution step before the cursor: at a
        resolution of a day, ``> yesterday`` is what finds the records of the cursor's day.
        """
        since = 0 if cursor is None else int(datetime.fromisoformat(cursor).timestamp())
        changed = {"field": "updated_at", "operator": ">", "value": max(since - self.resolution, 0)}
        filters = self.filters()
        return {"operator": "AND", "value": [*filters, changed]} if filters else changed

    def _records(self, page: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        records = page.get(self.results)
        if not isinstance(records, list):
            raise ConnectorError(f"Intercom answered {self.path} without a {self.results} list")
        return [as_mapping(record) for record in records]

    def _changed_at(self, record: Mapping[str, Any]) -> str:
        """The record's ``updated_at`` as cursor text (ISO 8601 in UTC orders as time does)."""
        updated_at = record.get("updated_at")
        if not isinstance(updated_at, int) or isinstance(updated_at, bool):
            raise ConnectorError(
                f"Intercom answered {self.path} with record {record.get('id')!r} whose "
                f"updated_at is {updated_at!r}, not a Unix time: it cannot be read in order"
            )
        return datetime.fromtimestamp(updated_at, UTC).isoformat()


def _next_page(page: Mapping[str, Any]) -> str | None:
    """The ``starting_after`` cursor of the next page; ``None`` on the last page."""
    following = as_mapping(as_mapping(page.get("pages")).get("next")).get("starting_after")
    return following if isinstance(following, str) else None
