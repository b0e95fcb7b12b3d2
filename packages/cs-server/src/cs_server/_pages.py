"""Relay-style pages: their size limit, their info, and the opaque cursors of keyset paging.

A cursor holds the sort value and the id of the last item of a page; the next page starts
strictly after that pair, so pages never skip or repeat an item while rows are added.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from datetime import date
from typing import Any

import strawberry

from cs_core import InvalidArgumentError

__all__ = ["MAX_PAGE", "PageInfo", "check_page_size", "cursor_position", "page_cursor"]

MAX_PAGE = 100
"""The most items one page of a connection (or one list) holds."""


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


def check_page_size(first: int, name: str = "first") -> None:
    """Refuse a page size outside 1 to :data:`MAX_PAGE`, naming the argument."""
    if not 1 <= first <= MAX_PAGE:
        raise InvalidArgumentError(f"{name} is from 1 to {MAX_PAGE}, not {first}")


def page_cursor(value: Any, key: int) -> str:
    """The cursor of an item sorted by ``value`` (a day, a number, a text) with id ``key``."""
    shown = value.isoformat() if isinstance(value, date) else value
    return base64.urlsafe_b64encode(json.dumps([shown, key]).encode()).decode()


def cursor_position(
    cursor: str, read_value: Callable[[Any], Any], hint: str = ""
) -> tuple[Any, int]:
    """The sort value (through ``read_value``) and the id a cursor holds; ``hint`` completes the
    message of a cursor that is not one of this connection."""
    try:
        value, key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return read_value(value), int(key)
    except (binascii.Error, ValueError, TypeError):
        raise InvalidArgumentError(
            f"{cursor!r} is not a cursor of this connection: pass an endCursor it returned{hint}"
        ) from None
