"""Reading Intercom's JSON defensively: a record's absent or malformed parts read as missing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["as_mapping"]


def as_mapping(value: object) -> Mapping[str, Any]:
    """``value`` if it is a JSON object, else an empty one, so that a record with a part
    missing still becomes a candidate, and validation names the fields it lacks."""
    return value if isinstance(value, Mapping) else {}
