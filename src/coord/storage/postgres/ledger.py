"""The audit ledger of the PostgreSQL store: sealing events into the hash chain, reading it.

Event ids come from an identity column, taken when a row is inserted, not when its
transaction commits: a transaction holding id 10 may commit after one holding id 11.
So the sealer orders events by ``(xid, id)`` (the inserting transaction, then the id)
and seals only events whose transaction is older than the oldest one still running
(``pg_snapshot_xmin``): those have all ended, so nothing can appear below that horizon
later. The head row, taken ``FOR UPDATE``, makes one sealer at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from coord.domain.ledger import (
    CanonicalEvent,
    ChainEntry,
    link,
)
from coord.ports.ledger import SEAL_BATCH
from coord.storage.postgres.connection import PACKAGE, PostgresConnection
from coord.storage.rows.ledger import one_row, seal_in_batches
from coord.storage.shared.ledger import LedgerReadsWrittenOnce
from coord.storage.sql import load_queries

L = load_queries(PACKAGE, "ledger.sql")


def canonical_time(value: datetime) -> str:
    """A timestamptz as hashed: UTC ISO-8601 with microseconds (its full precision)."""
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_event(r: Sequence[Any]) -> CanonicalEvent:
    """An event row (id, topic, task_id, run_id, message_id, actor, created_at, data)
    as hashed. jsonb keeps no bytes of its own, so data is hashed as jsonb's text
    form, which PostgreSQL prints deterministically for a value (keys sorted, fixed
    spacing, numbers as stored): any change to the value changes that text."""
    return CanonicalEvent(
        id=r[0],
        topic=r[1],
        task_id=r[2],
        run_id=r[3],
        message_id=r[4],
        actor=r[5],
        created_at=canonical_time(r[6]),
        data=r[7],
    )


class PostgresLedger(PostgresConnection, LedgerReadsWrittenOnce):
    """Ledger half of the PostgreSQL store (:class:`coord.ports.ledger.LedgerStore`)."""

    _ledger_queries = L

    def seal_ledger(self, *, batch_size: int = SEAL_BATCH, max_batches: int = 1) -> int:
        """Seal the events below the horizon after the head, a batch per transaction."""
        return seal_in_batches(self._seal_batch, batch_size, max_batches)

    def _seal_batch(self, limit: int) -> int:
        with self._tx() as conn:
            seq, head_hash, xid, event_id = one_row(conn.execute(L["lock_head"]).fetchone())
            rows = conn.execute(
                L["events_to_seal"], {"xid": xid, "id": event_id, "limit": limit}
            ).fetchall()
            entries = link([canonical_event(r) for r in rows], seq, head_hash)
            if not entries:
                return 0
            conn.execute(
                L["insert_entries"],
                {
                    "seqs": [e.seq for e in entries],
                    "event_ids": [e.event_id for e in entries],
                    "prev_hashes": [e.prev_hash for e in entries],
                    "hashes": [e.hash for e in entries],
                },
            )
            last = entries[-1]
            conn.execute(
                L["move_head"],
                {"seq": last.seq, "hash": last.hash, "xid": rows[-1][8], "event_id": last.event_id},
            )
        return len(entries)

    def ledger_entries(self, after_seq: int, up_to_seq: int, limit: int) -> list[ChainEntry]:
        """Entries in seq order, joined to their events."""
        params = {"after": after_seq, "up_to": up_to_seq, "limit": limit}
        with self._conn() as conn:
            rows = conn.execute(L["entries"], params).fetchall()
        return [
            ChainEntry(
                seq=r[0],
                event_id=r[1],
                prev_hash=r[2],
                hash=r[3],
                event=None if r[4] is None else canonical_event(r[4:]),
                order=() if r[12] is None else (int(r[12]), r[1]),
            )
            for r in rows
        ]
