"""Lists over pages: a list operation is its page operation, followed."""

from __future__ import annotations

from typing import TypeVar

from coord.domain.pages import MAX_PAGE
from coord.errors import InvalidInput
from coord.operations.paging import AsyncPageFetch

T = TypeVar("T")


def page_size(limit: int | None) -> int:
    """The size of one page for a list of at most ``limit`` items (None: all)."""
    if limit is None:
        return MAX_PAGE
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit: use 1 to {MAX_PAGE} (got {limit!r})", field="limit")
    return limit


async def collect(fetch: AsyncPageFetch[T], limit: int | None) -> list[T]:
    """The items of every page (at most ``limit``; None: all), following the cursors."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InvalidInput(f"limit: use 1 or more, or None for all (got {limit!r})", field="limit")
    items: list[T] = []
    cursor: str | None = None
    while limit is None or len(items) < limit:
        size = MAX_PAGE if limit is None else min(MAX_PAGE, limit - len(items))
        page = await fetch(size, cursor)
        items += page.data
        if not page.has_more or page.next_cursor is None:
            break
        cursor = page.next_cursor
    return items if limit is None else items[:limit]
