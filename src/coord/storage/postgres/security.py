"""API keys, secrets and idempotency records of the PostgreSQL store (see
:class:`coord.ports.security.SecurityStore`). A change and its event run in one
transaction; reads are single statements on an autocommit connection. Most methods
are written once (:mod:`coord.storage.shared.security`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from coord.domain import codec
from coord.domain.security import (
    AUTH_SUPPRESSED,
    SECRET_ROTATED,
    Denial,
    DenialTally,
    Reseal,
)
from coord.storage.postgres.connection import PACKAGE, PostgresConnection
from coord.storage.rows import events as ev
from coord.storage.rows import security as rows
from coord.storage.shared.security import SecurityWrittenOnce
from coord.storage.sql import load_queries

S = load_queries(PACKAGE, "security.sql")


class PostgresSecurity(PostgresConnection, SecurityWrittenOnce):
    """Security half of the PostgreSQL store (:class:`coord.ports.security.SecurityStore`):
    its queries, and what differs from the methods written once."""

    _security_queries = S

    def reseal_secrets(self, changes: Sequence[Reseal], actor: str | None) -> int:
        """Replace ciphertexts that did not change meanwhile, each with an event (one
        statement: the updates and their events commit together)."""
        if not changes:
            return 0
        batch = codec.dumps([[c.name, c.old_ciphertext, c.ciphertext, c.key_id] for c in changes])
        rotated = [
            ev.security_event(SECRET_ROTATED, actor, {"name": c.name, "key_id": c.key_id})
            for c in changes
        ]
        params = {"rows": batch, "events": ev.as_json_rows(rotated)}
        with self._conn() as conn:
            row = conn.execute(S["reseal_secrets"], params).fetchone()
        return int(row[0]) if row else 0

    def note_denial(self, denial: Denial, *, window: float, record_limit: int) -> DenialTally:
        """Count a denial in its address's window, recording its event if still due
        (one statement)."""
        params = {
            "address": denial.address,
            "window": window,
            "failure": int(denial.kind == "auth"),
            "limit": record_limit,
            **ev.template(ev.security_event(denial.topic, denial.agent, denial.event_data())),
        }
        with self._conn() as conn:
            return rows.tally(conn.execute(S["note_denial"], params).fetchone())

    def summarize_denials(self) -> int:
        """Delete ended windows, recording ``auth.suppressed`` where denials went unrecorded."""
        with self._tx() as conn:
            gone = conn.execute(S["ended_denials"]).fetchall()
            suppressed = [
                ev.auth_suppressed(AUTH_SUPPRESSED, address, start, end, denials, recorded)
                for address, start, end, denials, recorded in sorted(gone, key=_by_window)
                if denials > recorded
            ]
            self._insert_events(conn, suppressed)
        return len(suppressed)


def _by_window(row: Any) -> tuple[Any, str]:
    """Suppressed windows are recorded in time order, then by address."""
    return (row[1], row[0])
