"""API keys, secrets and idempotency records of the SQLite store (see
:class:`coord.ports.security.SecurityStore`). Each change and its event commit in one
``BEGIN IMMEDIATE`` transaction; reads take the connection lock only."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from coord.domain import codec
from coord.domain.security import (
    AUTH_SUPPRESSED,
    KEY_CREATED,
    KEY_REVOKED,
    SECRET_DELETED,
    SECRET_READ,
    SECRET_ROTATED,
    SECRET_SET,
    ApiKeyInfo,
    Denial,
    DenialTally,
    KeyCredentials,
    NewKey,
    Reseal,
    SealedSecret,
    SecretInfo,
    StoredResponse,
)
from coord.storage.rows import events as ev
from coord.storage.rows import security as rows
from coord.storage.rows.reader import epoch_to_datetime, json_text_to_value
from coord.storage.sql import load_queries
from coord.storage.sqlite.connection import PACKAGE, SqliteConnection

S = load_queries(PACKAGE, "security.sql")


class SqliteSecurity(SqliteConnection):
    """Security half of the SQLite store (:class:`coord.ports.security.SecurityStore`)."""

    # -- API keys -----------------------------------------------------------------------
    def create_key(self, key: NewKey, actor: str | None) -> ApiKeyInfo:
        """Store a key of a live agent with its ``key.created`` event."""
        with self._errors(), self._tx() as (cur, now):
            params = {
                "id": key.id,
                "agent": key.agent,
                "role": key.role,
                "secret_hash": key.secret_hash,
                "actor": actor,
                "now": now,
                "expires_in": key.expires_in,
            }
            if cur.execute(S["create_key"], params).fetchone() is None:
                raise rows.unknown_agent(key.agent)
            info = rows.key_info(
                cur.execute(S["get_key"], {"id": key.id, "now": now}).fetchone(),
                epoch_to_datetime,
            )
            data = {"key_id": key.id, "agent": key.agent, "role": key.role}
            data["expires_at"] = None if info.expires_at is None else info.expires_at.isoformat()
            self._insert_events(cur, [ev.security_event(KEY_CREATED, actor, data)], now)
        return info

    def get_key(self, key_id: str) -> ApiKeyInfo | None:
        """One key, revoked and expired ones included."""
        with self._errors(), self._read() as cur:
            row = cur.execute(S["get_key"], {"id": key_id, "now": time.time()}).fetchone()
        return None if row is None else rows.key_info(row, epoch_to_datetime)

    def list_keys(self, agent: str | None) -> list[ApiKeyInfo]:
        """Every key (of ``agent`` when given), oldest first."""
        with self._errors(), self._read() as cur:
            found = cur.execute(S["list_keys"], {"agent": agent, "now": time.time()}).fetchall()
        return [rows.key_info(r, epoch_to_datetime) for r in found]

    def revoke_key(self, key_id: str, actor: str | None) -> ApiKeyInfo:
        """Revoke a key at once, with its ``key.revoked`` event."""
        with self._errors(), self._tx() as (cur, now):
            changed = cur.execute(S["revoke_key"], {"id": key_id, "now": now}).fetchone()
            found = cur.execute(S["get_key"], {"id": key_id, "now": now}).fetchone()
            if changed is None:
                raise rows.revoke_refused(key_id, exists=found is not None)
            data = {"key_id": key_id, "agent": changed[0]}
            self._insert_events(cur, [ev.security_event(KEY_REVOKED, actor, data)], now)
        return rows.key_info(found, epoch_to_datetime)

    def key_credentials(self, key_id: str) -> KeyCredentials | None:
        """The key and its agent, in one lookup."""
        with self._errors(), self._read() as cur:
            row = cur.execute(S["key_credentials"], {"id": key_id, "now": time.time()}).fetchone()
        return None if row is None else rows.credentials(row, json_text_to_value)

    def touch_key(self, key_id: str) -> None:
        """Record that the key was used now (losing it in a power cut is harmless)."""
        with self._errors(), self._tx(durable=False) as (cur, now):
            cur.execute(S["touch_key"], {"id": key_id, "now": now})

    def any_usable_key(self) -> bool:
        """Whether a key exists that is not revoked, not expired, of a live agent."""
        with self._errors(), self._read() as cur:
            return bool(cur.execute(S["any_usable_key"], {"now": time.time()}).fetchone()[0])

    # -- secrets ------------------------------------------------------------------------
    def put_secret(self, name: str, ciphertext: str, key_id: str, actor: str | None) -> SecretInfo:
        """Create or replace a secret with its ``secret.set`` event."""
        params = {"name": name, "ciphertext": ciphertext, "key_id": key_id, "actor": actor}
        with self._errors(), self._tx() as (cur, now):
            row = cur.execute(S["put_secret"], {**params, "now": now}).fetchone()
            data = {"name": name, "key_id": key_id}
            self._insert_events(cur, [ev.security_event(SECRET_SET, actor, data)], now)
        return rows.secret_info(row, epoch_to_datetime)

    def open_secret(self, name: str, actor: str | None, task_id: str | None) -> SealedSecret | None:
        """Read a secret's ciphertext and record its ``secret.read`` event."""
        with self._errors(), self._tx() as (cur, now):
            row = cur.execute(S["get_secret"], {"name": name}).fetchone()
            if row is None:
                return None
            found = rows.sealed(row)
            data = {"name": name, "key_id": found.key_id}
            self._insert_events(cur, [ev.security_event(SECRET_READ, actor, data, task_id)], now)
        return found

    def list_secrets(self) -> list[SecretInfo]:
        """Every secret, by name, without values."""
        with self._errors(), self._read() as cur:
            found = cur.execute(S["list_secrets"]).fetchall()
        return [rows.secret_info(r, epoch_to_datetime) for r in found]

    def sealed_secrets(self) -> list[SealedSecret]:
        """Every secret's ciphertext."""
        with self._errors(), self._read() as cur:
            return [rows.sealed(r) for r in cur.execute(S["sealed_secrets"]).fetchall()]

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

    def delete_secret(self, name: str, actor: str | None) -> bool:
        """Delete a secret with its ``secret.deleted`` event."""
        with self._errors(), self._tx() as (cur, now):
            if cur.execute(S["delete_secret"], {"name": name}).fetchone() is None:
                return False
            self._insert_events(
                cur, [ev.security_event(SECRET_DELETED, actor, {"name": name})], now
            )
        return True

    # -- idempotency records ------------------------------------------------------------
    def recall_response(self, scope: str, key: str) -> StoredResponse | None:
        """The response stored for ``(scope, key)``, if any."""
        with self._errors(), self._read() as cur:
            row = cur.execute(S["recall_response"], {"scope": scope, "key": key}).fetchone()
        return None if row is None else rows.stored_response(row, json_text_to_value)

    def remember_response(
        self, scope: str, key: str, request_hash: str, status: int, body: Any
    ) -> StoredResponse:
        """Store a response unless one is stored already; return the one stored."""
        params = {
            "scope": scope,
            "key": key,
            "request_hash": request_hash,
            "status": status,
            "response": codec.dumps(body),
        }
        with self._errors(), self._tx() as (cur, now):
            cur.execute(S["remember_response"], {**params, "now": now})
            row = cur.execute(S["recall_response"], {"scope": scope, "key": key}).fetchone()
        return rows.stored_response(row, json_text_to_value)

    # -- denials of API requests ------------------------------------------------------------
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

    def denial_tally(self, address: str, *, window: float) -> DenialTally | None:
        """The address's current window, None if it has no denial."""
        with self._errors(), self._read() as cur:
            params = {"address": address, "now": time.time()}
            row = cur.execute(S["denial_tally"], params).fetchone()
        return None if row is None else rows.tally(row)

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
