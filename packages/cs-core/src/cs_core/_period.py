"""Reporting periods: a year, a quarter, a month, or any range of days."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from cs_core._errors import InvalidArgumentError

__all__ = ["Period"]

_QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_YEAR = re.compile(r"^(\d{4})$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")


@dataclass(frozen=True, slots=True)
class Period:
    """The days from ``start`` up to, not including, ``end``."""

    start: date
    end: date
    label: str

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise InvalidArgumentError(
                f"period {self.label!r} ends ({self.end - timedelta(days=1)}) "
                f"before it starts ({self.start})"
            )

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @classmethod
    def quarter(cls, year: int, quarter: int) -> Period:
        start = date(year, 3 * quarter - 2, 1)
        end = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
        return cls(start, end, f"{year}-Q{quarter}")

    @classmethod
    def previous_quarter(cls, today: date) -> Period:
        """The last quarter that has ended by ``today``."""
        quarter = (today.month - 1) // 3 + 1
        return (
            cls.quarter(today.year - 1, 4) if quarter == 1 else cls.quarter(today.year, quarter - 1)
        )

    @classmethod
    def parse(cls, text: str) -> Period:
        """``2026-Q3``, ``2026-07``, ``2026`` or ``2026-07-01..2026-09-30`` (both days included)."""
        value = text.strip()
        try:
            if match := _QUARTER.match(value):
                return cls.quarter(int(match[1]), int(match[2]))
            if match := _MONTH.match(value):
                year, month = int(match[1]), int(match[2])
                start = date(year, month, 1)
                end = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
                return cls(start, end, value)
            if match := _YEAR.match(value):
                year = int(match[1])
                return cls(date(year, 1, 1), date(year + 1, 1, 1), value)
            if match := _RANGE.match(value):
                first, last = date.fromisoformat(match[1]), date.fromisoformat(match[2])
                return cls(first, last + timedelta(days=1), value)
        except ValueError as error:
            if isinstance(error, InvalidArgumentError):
                raise
            raise InvalidArgumentError(f"period {text!r} names no real day: {error}") from None
        raise InvalidArgumentError(
            f"period {text!r} is not a period: give 2026-Q3, 2026-07, 2026 "
            "or 2026-07-01..2026-09-30"
        )
