"""API keys, secrets and idempotency records written once for both stores (see
:class:`coord.ports.security.SecurityStore`): the dialects differ here only in SQL
text, which each supplies as ``_security_queries`` (its ``security.sql``).

What stays per dialect: re-sealing secrets (one statement on PostgreSQL) and the
denial windows (PostgreSQL aligns them to its clock in SQL; SQLite checks for ended
windows before it takes the write lock).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from coord.domain import codec
from coord.domain.security import (
    KEY_CREATED,
    KEY_REVOKED,
    SECRET_DELETED,
    SECRET_READ,
    SECRET_SET,
    ApiKeyInfo,
    DenialTally,
    KeyCredentials,
    NewKey,
    SealedSecret,
    SecretInfo,
    StoredResponse,
)
from coord.storage.rows import events as ev
from coord.storage.rows import security as rows
from coord.storage.shared.session import Dialect


class SecurityWrittenOnce(Dialect):
    """The security methods whose dialects differ only in SQL text."""

    _security_queries: Mapping[str, str]

    # -- API keys -----------------------------------------------------------------------
    def create_key(self, key: NewKey, actor: str | None) -> ApiKeyInfo:
        """Store a key of a live agent with its ``key.created`` event."""
        q = self._security_queries
        params = {
            "id": key.id,
            "agent": key.agent,
            "role": key.role,
            "secret_hash": key.secret_hash,
            "actor": actor,
            "expires_in": key.expires_in,
        }
        with self._writing() as s:
            if s.one(q["create_key"], params) is None:
                raise rows.unknown_agent(key.agent)
            info = rows.key_info(s.one(q["get_key"], {"id": key.id}), self._reader.when)
            data = {"key_id": key.id, "agent": key.agent, "role": key.role}
            data["expires_at"] = None if info.expires_at is None else info.expires_at.isoformat()
            s.events([ev.security_event(KEY_CREATED, actor, data)])
        return info

    def get_key(self, key_id: str) -> ApiKeyInfo | None:
        """One key, revoked and expired ones included."""
        with self._reading() as s:
            row = s.one(self._security_queries["get_key"], {"id": key_id})
        return None if row is None else rows.key_info(row, self._reader.when)

    def list_keys(self, agent: str | None) -> list[ApiKeyInfo]:
        """Every key (of ``agent`` when given), oldest first."""
        with self._reading() as s:
            found = s.all(self._security_queries["list_keys"], {"agent": agent})
        return [rows.key_info(r, self._reader.when) for r in found]

    def revoke_key(self, key_id: str, actor: str | None) -> ApiKeyInfo:
        """Revoke a key at once, with its ``key.revoked`` event."""
        q = self._security_queries
        with self._writing() as s:
            changed = s.one(q["revoke_key"], {"id": key_id})
            found = s.one(q["get_key"], {"id": key_id})
            if changed is None:
                raise rows.revoke_refused(key_id, exists=found is not None)
            data = {"key_id": key_id, "agent": changed[0]}
            s.events([ev.security_event(KEY_REVOKED, actor, data)])
        return rows.key_info(found, self._reader.when)

    def key_credentials(self, key_id: str) -> KeyCredentials | None:
        """The key and its agent, in one lookup."""
        with self._reading() as s:
            row = s.one(self._security_queries["key_credentials"], {"id": key_id})
        return None if row is None else rows.credentials(row, self._reader.json_value)

    def touch_key(self, key_id: str) -> None:
        """Record that the key was used now (losing it in a power cut is harmless)."""
        with self._writing(durable=False, atomic=False) as s:
            s.count(self._security_queries["touch_key"], {"id": key_id})

    def any_usable_key(self) -> bool:
        """Whether a key exists that is not revoked, not expired, of a live agent."""
        with self._reading() as s:
            row = s.one(self._security_queries["any_usable_key"])
        return bool(row and row[0])

    # -- secrets ------------------------------------------------------------------------
    def put_secret(self, name: str, ciphertext: str, key_id: str, actor: str | None) -> SecretInfo:
        """Create or replace a secret with its ``secret.set`` event."""
        params = {"name": name, "ciphertext": ciphertext, "key_id": key_id, "actor": actor}
        with self._writing() as s:
            row = s.one(self._security_queries["put_secret"], params)
            s.events([ev.security_event(SECRET_SET, actor, {"name": name, "key_id": key_id})])
        return rows.secret_info(row, self._reader.when)

    def open_secret(self, name: str, actor: str | None, task_id: str | None) -> SealedSecret | None:
        """Read a secret's ciphertext and record its ``secret.read`` event."""
        with self._writing() as s:
            row = s.one(self._security_queries["get_secret"], {"name": name})
            if row is None:
                return None
            found = rows.sealed(row)
            data = {"name": name, "key_id": found.key_id}
            s.events([ev.security_event(SECRET_READ, actor, data, task_id)])
        return found

    def list_secrets(self) -> list[SecretInfo]:
        """Every secret, by name, without values."""
        with self._reading() as s:
            found = s.all(self._security_queries["list_secrets"])
        return [rows.secret_info(r, self._reader.when) for r in found]

    def sealed_secrets(self) -> list[SealedSecret]:
        """Every secret's ciphertext."""
        with self._reading() as s:
            return [rows.sealed(r) for r in s.all(self._security_queries["sealed_secrets"])]

    def delete_secret(self, name: str, actor: str | None) -> bool:
        """Delete a secret with its ``secret.deleted`` event."""
        with self._writing() as s:
            if s.one(self._security_queries["delete_secret"], {"name": name}) is None:
                return False
            s.events([ev.security_event(SECRET_DELETED, actor, {"name": name})])
        return True

    # -- idempotency records ------------------------------------------------------------
    def recall_response(self, scope: str, key: str) -> StoredResponse | None:
        """The response stored for ``(scope, key)``, if any."""
        with self._reading() as s:
            row = s.one(self._security_queries["recall_response"], {"scope": scope, "key": key})
        return None if row is None else rows.stored_response(row, self._reader.json_value)

    def remember_response(
        self, scope: str, key: str, request_hash: str, status: int, body: Any
    ) -> StoredResponse:
        """Store a response unless one is stored already; return the one stored.

        Not atomic on purpose: on PostgreSQL, when a concurrent request won the
        insert, the read then runs with a fresh snapshot that sees its committed row
        (SQLite holds its write lock throughout)."""
        q = self._security_queries
        params = {
            "scope": scope,
            "key": key,
            "request_hash": request_hash,
            "status": status,
            "response": codec.dumps(body),
        }
        with self._writing(atomic=False) as s:
            s.count(q["remember_response"], params)
            row = s.one(q["recall_response"], {"scope": scope, "key": key})
        return rows.stored_response(row, self._reader.json_value)

    # -- denials of API requests ------------------------------------------------------------
    def denial_tally(self, address: str, *, window: float) -> DenialTally | None:
        """The address's current window, None if it has no denial."""
        with self._reading() as s:
            row = s.one(self._security_queries["denial_tally"], {"address": address})
        return None if row is None else rows.tally(row)
