"""Reads of the audit ledger written once for both stores (see
:class:`coord.ports.ledger.LedgerStore`), whose dialects differ only in SQL text
(``_ledger_queries``, each dialect's ``ledger.sql``). Sealing and reading entries stay
per dialect: their order is the dialect's (ids on SQLite, ``(xid, id)`` on PostgreSQL)."""

from __future__ import annotations

from collections.abc import Mapping

from coord.domain.ledger import Backlog, LedgerHead, StrayEvent
from coord.domain.sealed_content import ContentRow, ContentTable, topics_of
from coord.storage.rows.ledger import content_row, one_row
from coord.storage.shared.session import Dialect

#: Below every id (UUIDv7, as text on SQLite too): where reading content starts.
NO_ID = "00000000-0000-0000-0000-000000000000"


class LedgerReadsWrittenOnce(Dialect):
    """The ledger reads whose dialects differ only in SQL text."""

    _ledger_queries: Mapping[str, str]

    def ledger_head(self) -> LedgerHead:
        """The head and the highest seq stored."""
        with self._reading() as s:
            seq, head_hash, event_id, sealed_at, max_seq = one_row(
                s.one(self._ledger_queries["head"])
            )
        return LedgerHead(seq, head_hash, event_id, self._reader.when(sealed_at), max_seq)

    def ledger_backlog(self) -> Backlog:
        """Events after the head, in sealing order."""
        with self._reading() as s:
            count, oldest = one_row(s.one(self._ledger_queries["backlog"]))
        return Backlog(count, self._reader.when(oldest))

    def stray_event(self) -> StrayEvent | None:
        """The first event up to the head's place that no entry seals."""
        with self._reading() as s:
            row = s.one(self._ledger_queries["stray_event"])
        return None if row is None else StrayEvent(row[0], row[1])

    def sealed_content(
        self, table: ContentTable, after_id: str | None, limit: int
    ) -> list[ContentRow]:
        """Rows of ``table`` after ``after_id`` with the events that recorded them."""
        params = {
            "after": after_id or NO_ID,
            "limit": limit,
            "topics": self._id_list(list(topics_of(table))),
        }
        with self._reading() as s:
            rows = s.all(self._ledger_queries[f"content_{table.value}"], params)
        return [content_row(table, tuple(r)) for r in rows]

    def artifact_contents(self, after_digest: str | None, limit: int) -> list[tuple[str, bytes]]:
        """Stored artifacts in digest order."""
        params = {"after": after_digest or "", "limit": limit}
        with self._reading() as s:
            rows = s.all(self._ledger_queries["artifact_contents"], params)
        return [(digest, bytes(content)) for digest, content in rows]
