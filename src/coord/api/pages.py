"""Cursor pagination as query parameters (the pages themselves:
:mod:`coord.domain.pages`). Every list answers ``{data, next_cursor, has_more}``.

A cursor is opaque to clients (base64 of a small JSON object): the key of the last
item of the page for lists that page by key, so that items added meanwhile neither
repeat nor go missing. The first page has no cursor; a cursor the API did not give
(or whose key is out of range) answers 422 naming ``cursor``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from coord.domain.pages import MAX_PAGE, Page
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
    "page",
]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Items per page.")]
Cursor = Annotated[
    str | None,
    Query(max_length=512, description="The next_cursor of the previous page."),
]
