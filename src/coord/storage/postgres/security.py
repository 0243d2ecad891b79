"""API keys, secrets and idempotency records of the PostgreSQL store (see
:class:`coord.ports.security.SecurityStore`). A change and its event run in one
transaction; reads are single statements on an autocommit connection."""

from __future__ import annotations

from collections.abc import Sequence
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
from coord.storage.postgres.connection import PACKAGE, PostgresConnection
from coord.storage.rows import events as ev
from coord.storage.rows import security as rows
from coord.storage.sql import load_queries

S = load_queries(PACKAGE, "security.sql")


def _same(value: Any) -> Any:
    return value


class PostgresSecurity(PostgresConnection):
    """Security half of the PostgreSQL store (:class:`coord.ports.security.SecurityStore`)."""

    # -- API keys -----------------------------------------------------------------------
    def create_key(self, key: NewKey, actor: str | None) -> ApiKeyInfo:
        """Store a key of a live agent with its ``key.created`` event."""
        params = {
            "id": key.id,
            "agent": key.agent,
            "role": key.role,
            "secret_hash": key.secret_hash,
            "actor": actor,
            "expires_in": key.expires_in,
        }
        with self._tx() as conn:
            if conn.execute(S["create_key"], params).fetchone() is None:
                raise rows.unknown_agent(key.agent)
            info = rows.key_info(conn.execute(S["get_key"], {"id": key.id}).fetchone(), _same)
            data = {"key_id": key.id, "agent": key.agent, "role": key.role}
            data["expires_at"] = None if info.expires_at is None else info.expires_at.isoformat()
            self._insert_events(conn, [ev.security_event(KEY_CREATED, actor, data)])
        return info

    def get_key(self, key_id: str) -> ApiKeyInfo | None:
        """One key, revoked and expired ones included."""
        with self._conn() as conn:
            row = conn.execute(S["get_key"], {"id": key_id}).fetchone()
        return None if row is None else rows.key_info(row, _same)

    def list_keys(self, agent: str | None) -> list[ApiKeyInfo]:
        """Every key (of ``agent`` when given), oldest first."""
        with self._conn() as conn:
            found = conn.execute(S["list_keys"], {"agent": agent}).fetchall()
        return [rows.key_info(r, _same) for r in found]

    def revoke_key(self, key_id: str, actor: str | None) -> ApiKeyInfo:
        """Revoke a key at once, with its ``key.revoked`` event."""
        with self._tx() as conn:
            changed = conn.execute(S["revoke_key"], {"id": key_id}).fetchone()
            found = conn.execute(S["get_key"], {"id": key_id}).fetchone()
            if changed is None:
                raise rows.revoke_refused(key_id, exists=found is not None)
            data = {"key_id": key_id, "agent": changed[0]}
            self._insert_events(conn, [ev.security_event(KEY_REVOKED, actor, data)])
        return rows.key_info(found, _same)

    def key_credentials(self, key_id: str) -> KeyCredentials | None:
        """The key and its agent, in one lookup."""
        with self._conn() as conn:
            row = conn.execute(S["key_credentials"], {"id": key_id}).fetchone()
        return None if row is None else rows.credentials(row, _same)

    def touch_key(self, key_id: str) -> None:
        """Record that the key was used now."""
        with self._conn() as conn:
            conn.execute(S["touch_key"], {"id": key_id})

    def any_usable_key(self) -> bool:
        """Whether a key exists that is not revoked, not expired, of a live agent."""
        with self._conn() as conn:
            row = conn.execute(S["any_usable_key"]).fetchone()
        return bool(row and row[0])

    # -- secrets ------------------------------------------------------------------------
    def put_secret(self, name: str, ciphertext: str, key_id: str, actor: str | None) -> SecretInfo:
        """Create or replace a secret with its ``secret.set`` event."""
        params = {"name": name, "ciphertext": ciphertext, "key_id": key_id, "actor": actor}
        with self._tx() as conn:
            row = conn.execute(S["put_secret"], params).fetchone()
            data = {"name": name, "key_id": key_id}
            self._insert_events(conn, [ev.security_event(SECRET_SET, actor, data)])
        return rows.secret_info(row, _same)

    def open_secret(self, name: str, actor: str | None, task_id: str | None) -> SealedSecret | None:
        """Read a secret's ciphertext and record its ``secret.read`` event."""
        with self._tx() as conn:
            row = conn.execute(S["get_secret"], {"name": name}).fetchone()
            if row is None:
                return None
            found = rows.sealed(row)
            data = {"name": name, "key_id": found.key_id}
            self._insert_events(conn, [ev.security_event(SECRET_READ, actor, data, task_id)])
        return found

    def list_secrets(self) -> list[SecretInfo]:
        """Every secret, by name, without values."""
        with self._conn() as conn:
            found = conn.execute(S["list_secrets"]).fetchall()
        return [rows.secret_info(r, _same) for r in found]

    def sealed_secrets(self) -> list[SealedSecret]:
        """Every secret's ciphertext."""
        with self._conn() as conn:
            return [rows.sealed(r) for r in conn.execute(S["sealed_secrets"]).fetchall()]

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

    def delete_secret(self, name: str, actor: str | None) -> bool:
        """Delete a secret with its ``secret.deleted`` event."""
        with self._tx() as conn:
            if conn.execute(S["delete_secret"], {"name": name}).fetchone() is None:
                return False
            self._insert_events(conn, [ev.security_event(SECRET_DELETED, actor, {"name": name})])
        return True

    # -- idempotency records ------------------------------------------------------------
    def recall_response(self, scope: str, key: str) -> StoredResponse | None:
        """The response stored for ``(scope, key)``, if any."""
        with self._conn() as conn:
            row = conn.execute(S["recall_response"], {"scope": scope, "key": key}).fetchone()
        return None if row is None else rows.stored_response(row, _same)

    def remember_response(
        self, scope: str, key: str, request_hash: str, status: int, body: Any
    ) -> StoredResponse:
        """Store a response unless one is stored already; return the one stored.

        Two statements on purpose: when a concurrent request won the insert, the
        read runs with a fresh snapshot that sees its committed row."""
        params = {
            "scope": scope,
            "key": key,
            "request_hash": request_hash,
            "status": status,
            "response": codec.dumps(body),
        }
        with self._conn() as conn:
            conn.execute(S["remember_response"], params)
            row = conn.execute(S["recall_response"], {"scope": scope, "key": key}).fetchone()
        return rows.stored_response(row, _same)

    # -- denials of API requests ------------------------------------------------------------
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

    def denial_tally(self, address: str, *, window: float) -> DenialTally | None:
        """The address's current window, None if it has no denial."""
        with self._conn() as conn:
            row = conn.execute(S["denial_tally"], {"address": address}).fetchone()
        return None if row is None else rows.tally(row)

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
