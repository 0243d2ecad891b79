"""API keys, secrets and idempotency records of the Postgres store."""

from __future__ import annotations

from coord.storage.postgres.connection import PostgresConnection


class PostgresSecurity(PostgresConnection):
    """Security half of the Postgres store (:class:`coord.ports.security.SecurityStore`)."""
