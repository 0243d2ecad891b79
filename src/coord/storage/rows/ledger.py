"""What both ledger store halves share: the head row check, sealing in batches, and
the rows of sealed content."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from coord.domain import codec
from coord.domain.sealed_content import Claim, ContentRow, ContentTable
from coord.errors import StoreError

#: The columns each content query returns before its events, in order.
CONTENT_COLUMNS: dict[ContentTable, tuple[str, ...]] = {
    ContentTable.TASKS: ("payload", "result", "checkpoint"),
    ContentTable.MESSAGES: ("subject", "body"),
    ContentTable.RUNS: ("input",),
}


def one_row(row: Sequence[Any] | None) -> Sequence[Any]:
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


def content_row(table: ContentTable, row: tuple[Any, ...]) -> ContentRow:
    """A content query's row ``(id, *columns, events)``; events as a JSON array (text
    or parsed) of ``[topic, event id, entry seq or null, data]``."""
    names = CONTENT_COLUMNS[table]
    found = row[-1]
    claims = codec.loads(found) if isinstance(found, str) else (found or [])
    return ContentRow(
        id=str(row[0]),
        columns=dict(zip(names, row[1:-1], strict=True)),
        claims=[Claim(topic, event_id, seq, data) for topic, event_id, seq, data in claims],
    )
