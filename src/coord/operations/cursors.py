"""Cursors: what a page's ``next_cursor`` holds, and how a page is cut from what
a store returned. A cursor is opaque to clients (base64 of a small JSON object):
the key of the last item of the page for lists that page by key, so that items
added meanwhile neither repeat nor go missing. A cursor coord did not give (or
whose key is out of range) is refused with ``InvalidInput`` naming ``cursor``."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeVar

import orjson

from coord.domain.pages import Page
from coord.errors import InvalidInput

T = TypeVar("T")


def encode(key: Any) -> str:
    """The cursor continuing after ``key``."""
    return base64.urlsafe_b64encode(orjson.dumps({"after": key})).decode().rstrip("=")


def decode(cursor: str | None) -> Any:
    """The key a cursor continues after (None: the first page)."""
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
        return value["after"]
    except (binascii.Error, ValueError, TypeError, KeyError, orjson.JSONDecodeError):
        _refused()


def decode_id(cursor: str | None) -> str | None:
    """The id a cursor of a list paged by id continues before (None: the first page)."""
    key = decode(cursor)
    if key is None:
        return None
    try:
        return str(uuid.UUID(key)) if isinstance(key, str) else _refused()
    except ValueError:
        return _refused()


def decode_position(cursor: str | None, high: int) -> int:
    """The sequence number or position a cursor continues after (0: the first page),
    at most ``high``."""
    key = decode(cursor)
    if key is None:
        return 0
    if isinstance(key, bool) or not isinstance(key, int) or not 0 <= key <= high:
        return _refused()
    return key


def _refused() -> NoReturn:
    raise InvalidInput("cursor: not a cursor this API gave", field="cursor")


def page(items: Sequence[T], limit: int, key: Callable[[T], Any]) -> Page[T]:
    """A page from ``limit + 1`` items fetched: the extra one only says there is more."""
    more = len(items) > limit
    shown = list(items[:limit])
    return Page[T](
        data=shown,
        next_cursor=encode(key(shown[-1])) if more and shown else None,
        has_more=more,
    )
