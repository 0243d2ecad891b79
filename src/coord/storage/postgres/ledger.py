"""The audit ledger of the Postgres store: sealing events into the hash chain, reading it."""

from __future__ import annotations

from coord.storage.postgres.connection import PostgresConnection


class PostgresLedger(PostgresConnection):
    """Ledger half of the Postgres store (:class:`coord.ports.ledger.LedgerStore`)."""
