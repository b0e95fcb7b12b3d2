"""Annotated field types shared by the domain records: identifiers, money, UTC time."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, StringConstraints

from cs_core._errors import InvalidArgumentError

__all__ = [
    "CurrencyCode",
    "Domain",
    "Duration",
    "ExternalId",
    "Money",
    "NonNegativeInt",
    "SourceName",
    "UtcDatetime",
    "parse_duration",
    "utc_midnight",
    "utc_moment",
]

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def utc_moment(value: datetime | None, name: str) -> datetime:
    """``value`` in UTC (``None``: now); a datetime without a timezone is refused, not guessed."""
    if value is None:
        return datetime.now(UTC)
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidArgumentError(
            f"{name} {value.isoformat()} has no timezone: give one, as datetime(..., tzinfo=UTC)"
        )
    return value.astimezone(UTC)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|h|d|w)\s*$")
_DURATION_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str, name: str = "duration") -> timedelta:
    """``"30m"``, ``"4h"``, ``"3d"`` or ``"2w"`` as a timedelta; anything else is refused."""
    match = _DURATION.match(text.lower())
    if match is None:
        raise InvalidArgumentError(
            f"{name} {text!r} is not a duration: give a number and a unit, as 30m, 4h, 3d or 2w"
        )
    return timedelta(**{_DURATION_UNITS[match[2]]: float(match[1])})


def _duration(value: object) -> object:
    return parse_duration(value) if isinstance(value, str) else value


def utc_midnight(day: date) -> datetime:
    """The first moment of ``day`` in UTC: what "as of a day" means."""
    return datetime.combine(day, time(), UTC)


def _check_cents(value: Decimal) -> Decimal:
    if value.is_nan() or value.is_infinite():
        raise ValueError("must be a finite amount")
    if value < 0:
        raise ValueError("must not be negative")
    if value != value.quantize(Decimal("0.01")):
        raise ValueError("must have at most two decimal places")
    if abs(value) >= Decimal("1e16"):
        raise ValueError("is too large (at most 15 digits before the decimal point)")
    return value.quantize(Decimal("0.01"))


def _check_domain(value: str) -> str:
    domain = value.strip().lower().removeprefix("www.")
    if not _DOMAIN.match(domain):
        raise ValueError(f"{value!r} is not a domain name such as 'example.com'")
    return domain


SourceName = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.\-]{0,62}$"),
]
"""A source's name in lower-case letters, digits, ``_``, ``.`` and ``-``: ``salesforce``."""

ExternalId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
"""The identifier a source gives a record; unique within that source and kind of record."""

UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A timezone-aware instant, normalised to UTC; naive datetimes are refused."""

Money = Annotated[Decimal, AfterValidator(_check_cents)]
"""A non-negative amount with at most two decimal places."""

CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
"""An ISO 4217 currency code such as ``USD``."""

Domain = Annotated[str, AfterValidator(_check_domain)]
"""A lower-case domain name without scheme or ``www.`` prefix."""

NonNegativeInt = Annotated[int, Field(ge=0)]

Duration = Annotated[timedelta, BeforeValidator(_duration), Field(gt=timedelta(0))]
"""A positive length of time, written ``"30m"``, ``"4h"``, ``"3d"`` or ``"2w"``."""
