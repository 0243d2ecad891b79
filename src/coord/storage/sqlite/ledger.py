"""The audit ledger of the Sqlite store: sealing events into the hash chain, reading it."""

from __future__ import annotations

from coord.storage.sqlite.connection import SqliteConnection


class SqliteLedger(SqliteConnection):
    """Ledger half of the Sqlite store (:class:`coord.ports.ledger.LedgerStore`)."""
