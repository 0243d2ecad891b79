"""The storage port of the audit ledger: sealing events into a hash chain, reading it."""

from __future__ import annotations

from typing import Protocol

from coord.domain.ledger import Backlog, ChainEntry, LedgerHead, StrayEvent
from coord.domain.sealed_content import ContentRow, ContentTable

#: Rows read per query while checking sealed content (artifacts: fewer, they are big).
CONTENT_BATCH = 500
ARTIFACT_BATCH = 10  # up to COORD_MAX_ARTIFACT_BYTES each
#: Events sealed per transaction: short enough that the worker's claims and
#: completions get the store between two batches.
SEAL_BATCH = 1000


class LedgerStore(Protocol):
    """The hash chain over the events of a coord database."""

    def seal_ledger(self, *, batch_size: int = SEAL_BATCH, max_batches: int = 1) -> int:
        """Seal the next events into the chain, one transaction per batch of at most
        ``batch_size``, until none is left or ``max_batches`` ran; return how many.

        Events are sealed in commit order and each exactly once, whoever else seals
        at the same time (SQLite: event ids grow in commit order under its single
        writer; PostgreSQL: ``(xid, id)`` below the oldest running transaction)."""
        ...

    def ledger_head(self) -> LedgerHead:
        """The chain's head, with the highest seq stored (one snapshot)."""
        ...

    def ledger_entries(self, after_seq: int, up_to_seq: int, limit: int) -> list[ChainEntry]:
        """Entries with ``after_seq < seq <= up_to_seq`` in seq order, at most ``limit``,
        each joined to its event."""
        ...

    def ledger_backlog(self) -> Backlog:
        """The events after the head: not sealed yet."""
        ...

    def stray_event(self) -> StrayEvent | None:
        """The first event at or before the head's place in sealing order that no
        entry seals (None: there is none)."""
        ...

    def sealed_content(
        self, table: ContentTable, after_id: str | None, limit: int
    ) -> list[ContentRow]:
        """Rows of ``table`` with an id after ``after_id`` (None: from the first) in id
        order, at most ``limit``, each with its content columns as stored (JSON as
        text) and the events that recorded its content, read in one snapshot."""
        ...

    def artifact_contents(self, after_digest: str | None, limit: int) -> list[tuple[str, bytes]]:
        """Stored artifacts as ``(digest, content)`` with a digest after ``after_digest``
        (None: from the first) in digest order, at most ``limit``."""
        ...
