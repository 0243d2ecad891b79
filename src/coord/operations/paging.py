"""How a list operation reads one page: ``fetch(size, cursor)``, in both forms (the
list forms follow the cursors, in :mod:`coord.operations._async.listing`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from coord.domain.pages import Page

T = TypeVar("T")

AsyncPageFetch = Callable[[int, "str | None"], Awaitable[Page[T]]]
PageFetch = Callable[[int, "str | None"], Page[T]]
