"""Cursor pagination as query parameters (the pages themselves:
:mod:`coord.domain.pages`, the cursors :mod:`coord.operations.cursors`). Every list
answers ``{data, next_cursor, has_more}``, paged with ``limit`` and ``cursor``.

A cursor is opaque to clients (base64 of a small JSON object): the key of the last
item of the page for lists that page by key, so that items added meanwhile neither
repeat nor go missing. The first page has no cursor; a cursor the API did not give
(or whose key is out of range) answers 422 naming ``cursor``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, TypeVar

from fastapi import Query

from coord.domain import bounds
from coord.domain.pages import MAX_PAGE, Page
from coord.domain.views import EventInfo
from coord.operations.cursors import decode, decode_id, decode_position, encode, page

__all__ = [
    "MAX_PAGE",
    "Cursor",
    "Limit",
    "Page",
    "decode",
    "decode_id",
    "decode_position",
    "encode",
    "of_history",
    "of_list",
    "page",
]

T = TypeVar("T")
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Items per page.")]
Cursor = Annotated[
    str | None,
    Query(max_length=512, description="The next_cursor of the previous page."),
]


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
