"""Turning raw rows (from files, APIs, JSON) into records, with every problem named at once."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from pydantic import ValidationError

from cs_core._errors import FieldProblem, InvalidRecordError
from cs_core._records import Record

__all__ = ["parse_records"]

R = TypeVar("R", bound=Record)


def parse_records(record_type: type[R], rows: Iterable[Mapping[str, Any]]) -> list[R]:
    """Validate ``rows`` as ``record_type``; all of them, or none.

    Raises :class:`InvalidRecordError` listing every problem of every row, each naming the
    record (``account salesforce:001``, or ``account #3`` when the row has no key) and the
    field, so that a batch is fixed in one pass instead of one error at a time.
    """
    parsed: list[R] = []
    problems: list[FieldProblem] = []
    for index, row in enumerate(rows):
        try:
            parsed.append(record_type.model_validate(row))
        except ValidationError as error:
            label = _label(record_type, row, index)
            problems.extend(
                FieldProblem(
                    label,
                    ".".join(str(part) for part in detail["loc"]) or "(record)",
                    detail["msg"],
                )
                for detail in error.errors(include_url=False)
            )
    if problems:
        raise InvalidRecordError(problems)
    return parsed


def _label(record_type: type[Record], row: Mapping[str, Any], index: int) -> str:
    source, external_id = row.get("source"), row.get("external_id")
    if isinstance(source, str) and isinstance(external_id, str) and source and external_id:
        return f"{record_type.kind} {source}:{external_id}"
    return f"{record_type.kind} #{index}"
