"""API keys, secrets and idempotency records of the SQLite store (see
:class:`coord.ports.security.SecurityStore`). Each change and its event commit in one
``BEGIN IMMEDIATE`` transaction; reads take the connection lock only. Most methods
are written once (:mod:`coord.storage.shared.security`)."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from coord.domain.security import (
    AUTH_SUPPRESSED,
    SECRET_ROTATED,
    Denial,
    DenialTally,
    Reseal,
)
from coord.storage.rows import events as ev
from coord.storage.rows import security as rows
from coord.storage.rows.reader import epoch_to_datetime
from coord.storage.shared.security import SecurityWrittenOnce
from coord.storage.sql import load_queries
from coord.storage.sqlite.connection import PACKAGE, SqliteConnection

S = load_queries(PACKAGE, "security.sql")


class SqliteSecurity(SqliteConnection, SecurityWrittenOnce):
    """Security half of the SQLite store (:class:`coord.ports.security.SecurityStore`):
    its queries, and what differs from the methods written once."""

    _security_queries = S

    def reseal_secrets(self, changes: Sequence[Reseal], actor: str | None) -> int:
        """Replace ciphertexts that did not change meanwhile, each with an event."""
        count = 0
        with self._errors(), self._tx() as (cur, now):
            for change in changes:
                params = {
                    "name": change.name,
                    "old_ciphertext": change.old_ciphertext,
                    "ciphertext": change.ciphertext,
                    "key_id": change.key_id,
                    "now": now,
                }
                if cur.execute(S["reseal_secret"], params).fetchone() is None:
                    continue
                count += 1
                data = {"name": change.name, "key_id": change.key_id}
                self._insert_events(cur, [ev.security_event(SECRET_ROTATED, actor, data)], now)
        return count

    def note_denial(self, denial: Denial, *, window: float, record_limit: int) -> DenialTally:
        """Count a denial in its address's window, recording its event if still due."""
        with self._errors(), self._tx(durable=False) as (cur, now):
            start = math.floor(now / window) * window
            params = {
                "address": denial.address,
                "window_start": start,
                "window_end": start + window,
                "failure": int(denial.kind == "auth"),
                "limit": record_limit,
                "now": now,
            }
            found = rows.tally(cur.execute(S["note_denial"], params).fetchone())
            if found.recorded:
                row = ev.security_event(denial.topic, denial.agent, denial.event_data())
                self._insert_events(cur, [row], now)
        return found

    def summarize_denials(self) -> int:
        """Delete ended windows, recording ``auth.suppressed`` where denials went unrecorded."""
        with self._errors(), self._read() as cur:  # mostly nothing: no write lock then
            if not cur.execute(S["any_ended_denials"], {"now": time.time()}).fetchone()[0]:
                return 0
        count = 0
        with self._errors(), self._tx() as (cur, now):
            gone = sorted(cur.execute(S["ended_denials"], {"now": now}).fetchall(), key=_by_window)
            for address, start, end, denials, recorded in gone:
                if denials <= recorded:
                    continue
                row = ev.auth_suppressed(
                    AUTH_SUPPRESSED, address, _utc(start), _utc(end), denials, recorded
                )
                self._insert_events(cur, [row], now)
                count += 1
        return count


def _by_window(row: Any) -> tuple[float, str]:
    return (row[1], row[0])


def _utc(epoch: float) -> datetime:
    found = epoch_to_datetime(epoch)
    assert found is not None
    return found
