"""What both ledger store halves share: the head row check and sealing in batches."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from coord.errors import StoreError


def one_row(row: tuple[Any, ...] | None) -> tuple[Any, ...]:
    """The row of a query that always returns one (the head row always exists, unless
    someone deleted it)."""
    if row is None:
        raise StoreError("the ledger's head row (coord_ledger_head) is missing")
    return row


def seal_in_batches(seal_batch: Callable[[int], int], batch_size: int, max_batches: int) -> int:
    """Seal up to ``max_batches`` batches, a transaction each, stopping at the first
    batch that is not full (caught up); return how many events were sealed."""
    sealed = 0
    for _ in range(max_batches):
        count = seal_batch(batch_size)
        sealed += count
        if count < batch_size:
            break
    return sealed
