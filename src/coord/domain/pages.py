"""Pages: every list answers ``{data, next_cursor, has_more}`` (the cursors
themselves: :mod:`coord.operations.cursors`)."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")

MAX_PAGE = 500


class Page(BaseModel, Generic[T]):
    """One page of a list (the list operations follow ``next_cursor`` for you)."""

    # A newer server may add fields: an older client ignores them.
    model_config = ConfigDict(extra="ignore")

    data: list[T]
    next_cursor: str | None
    has_more: bool
