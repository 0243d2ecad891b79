"""The audit ledger of the SQLite store: sealing events into the hash chain, reading it.

Writers are serialized by ``BEGIN IMMEDIATE`` and event ids come from AUTOINCREMENT,
so ids grow in commit order and a sealer taking the events after the head's event id,
in id order, can neither skip one nor seal one twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from coord.domain.ledger import (
    CanonicalEvent,
    ChainEntry,
    link,
)
from coord.ports.ledger import SEAL_BATCH
from coord.storage.rows.ledger import one_row, seal_in_batches
from coord.storage.shared.ledger import LedgerReadsWrittenOnce
from coord.storage.sql import load_queries
from coord.storage.sqlite.connection import PACKAGE, SqliteConnection

L = load_queries(PACKAGE, "ledger.sql")


def canonical_event(r: Sequence[Any]) -> CanonicalEvent:
    """An event row (id, topic, task_id, run_id, message_id, actor, created_at, data)
    as hashed: data is the stored JSON text itself and the time the ``repr`` of its
    epoch float, so any byte edited in either changes the hash."""
    return CanonicalEvent(
        id=r[0],
        topic=r[1],
        task_id=r[2],
        run_id=r[3],
        message_id=r[4],
        actor=r[5],
        created_at=repr(float(r[6])),
        data=r[7],
    )


class SqliteLedger(SqliteConnection, LedgerReadsWrittenOnce):
    """Ledger half of the SQLite store (:class:`coord.ports.ledger.LedgerStore`)."""

    _ledger_queries = L

    def seal_ledger(self, *, batch_size: int = SEAL_BATCH, max_batches: int = 1) -> int:
        """Seal the events after the head, a batch per transaction."""
        return seal_in_batches(self._seal_batch, batch_size, max_batches)

    def _seal_batch(self, limit: int) -> int:
        with self._errors(), self._tx() as (cur, now):
            seq, head_hash, event_id = one_row(cur.execute(L["head"]).fetchone())[:3]
            rows = cur.execute(L["events_to_seal"], {"after": event_id, "limit": limit})
            entries = link([canonical_event(r) for r in rows.fetchall()], seq, head_hash)
            if not entries:
                return 0
            cur.executemany(
                L["insert_entry"], [(e.seq, e.event_id, e.prev_hash, e.hash, now) for e in entries]
            )
            last = entries[-1]
            cur.execute(
                L["move_head"],
                {"seq": last.seq, "hash": last.hash, "event_id": last.event_id, "now": now},
            )
        return len(entries)

    def ledger_entries(self, after_seq: int, up_to_seq: int, limit: int) -> list[ChainEntry]:
        """Entries in seq order, joined to their events."""
        params = {"after": after_seq, "up_to": up_to_seq, "limit": limit}
        with self._errors(), self._read() as cur:
            rows = cur.execute(L["entries"], params).fetchall()
        return [
            ChainEntry(
                seq=r[0],
                event_id=r[1],
                prev_hash=r[2],
                hash=r[3],
                event=None if r[4] is None else canonical_event(r[4:]),
                order=(r[1],),
            )
            for r in rows
        ]
