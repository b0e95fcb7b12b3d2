"""The exceptions cs-core raises for a user's mistakes.

Every error a user can cause derives from :class:`CSError`, so that callers (and the
``cs`` command) can tell "fix your input" apart from a bug. Messages name the thing to fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "CSError",
    "ConfigurationError",
    "FieldProblem",
    "InvalidArgumentError",
    "InvalidRecordError",
    "StoreNotReadyError",
]


class CSError(Exception):
    """Base class of every error caused by input, configuration or data."""


class ConfigurationError(CSError):
    """A setting (an environment variable, an option, a file) cannot be used as given."""


class InvalidArgumentError(CSError, ValueError):
    """An argument a function cannot use as given, such as a datetime without a timezone."""


class StoreNotReadyError(CSError):
    """The store's schema is missing or older than this version of cs-core expects."""


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One reason a record was refused: where in the record, and why."""

    record: str
    """The record, as ``kind source:external_id`` or ``kind #index`` when it has no key."""
    field: str
    """The dotted path of the offending field, or ``(record)`` for a rule across fields."""
    message: str

    def __str__(self) -> str:
        return f"{self.record}: field {self.field!r}: {self.message}"


class InvalidRecordError(CSError):
    """A batch holds records that break the domain's rules; nothing of the batch was written."""

    def __init__(self, problems: Sequence[FieldProblem]) -> None:
        if not problems:
            raise ValueError("InvalidRecordError needs at least one problem")
        self.problems: tuple[FieldProblem, ...] = tuple(problems)
        first = str(self.problems[0])
        more = len(self.problems) - 1
        super().__init__(first if not more else f"{first} (and {more} more problem(s))")
