"""Cursor pagination: every list answers ``{data, next_cursor, has_more}``, paged
with ``limit`` and ``cursor``.

A cursor is opaque to clients (base64 of a small JSON object): the key of the last
item of the page for lists that page by key, so that items added meanwhile neither
repeat nor go missing; a position for the small lists computed whole (queues, dead
letter groups, workflows, keys, a thread), and an event id for histories. The first
page has no cursor; a cursor the API did not give (or whose key is out of range)
answers 422 naming ``cursor``.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Generic, NoReturn, TypeVar

import orjson
from fastapi import Query
from pydantic import BaseModel

from coord.domain import bounds
from coord.domain.views import EventInfo
from coord.errors import InvalidInput

T = TypeVar("T")

MAX_PAGE = 500
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Items per page.")]
Cursor = Annotated[
    str | None,
    Query(max_length=512, description="The next_cursor of the previous page."),
]


class Page(BaseModel, Generic[T]):
    """One page of a list."""

    data: list[T]
    next_cursor: str | None
    has_more: bool


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


def of_list(items: Sequence[T], limit: int, cursor: str | None) -> Page[T]:
    """A page of a list computed whole (small: queues, dead letter groups, workflows,
    keys, a thread), in its own order, paged by position."""
    start = decode_position(cursor, bounds.MAX_ID)
    return page(items[start : start + limit + 1], limit, lambda _item: start + limit)


def of_history(events: Sequence[EventInfo], limit: int, cursor: str | None) -> Page[EventInfo]:
    """A page of a history (events oldest first), paged by event id: events recorded
    meanwhile come on a later page, none repeats."""
    after = decode_position(cursor, bounds.MAX_ID)
    return page([e for e in events if e.id > after][: limit + 1], limit, lambda e: e.id)
