"""API keys, secrets and idempotency records of the Sqlite store."""

from __future__ import annotations

from coord.storage.sqlite.connection import SqliteConnection


class SqliteSecurity(SqliteConnection):
    """Security half of the Sqlite store (:class:`coord.ports.security.SecurityStore`)."""
