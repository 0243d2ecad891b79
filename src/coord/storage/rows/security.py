"""Rows of the security tables as records and read models, shared by both stores
(they differ in how JSON and times come back). Their events are built in
:mod:`coord.storage.rows.events`: by id and name only, never a key secret, a hash of
one, a secret value or a ciphertext.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from coord.domain.security import (
    ApiKeyInfo,
    DenialTally,
    KeyCredentials,
    KeyState,
    SealedSecret,
    SecretInfo,
    StoredResponse,
)
from coord.errors import Conflict, NotFound, StoreError

When = Callable[[Any], datetime | None]


def _present(row: Sequence[Any] | None) -> Sequence[Any]:
    # A row the same transaction just wrote or matched cannot be missing.
    if row is None:
        raise StoreError("a security row vanished inside its own transaction")
    return row


def _required(when: When, value: Any) -> datetime:
    found = when(value)
    if found is None:
        raise ValueError("a security row lacks a required time")
    return found


def key_info(found: Sequence[Any] | None, when: When) -> ApiKeyInfo:
    """A ``get_key``/``list_keys`` row as an :class:`ApiKeyInfo`."""
    row = _present(found)
    return ApiKeyInfo(
        id=row[0],
        agent=row[1],
        role=row[2],
        state=KeyState(row[3]),
        created_by=row[4],
        created_at=_required(when, row[5]),
        expires_at=when(row[6]),
        revoked_at=when(row[7]),
        last_used_at=when(row[8]),
    )


def credentials(row: Sequence[Any], json_value: Callable[[Any], Any]) -> KeyCredentials:
    """A ``key_credentials`` row as :class:`KeyCredentials`."""
    return KeyCredentials(
        id=row[0],
        agent=row[1],
        role=row[2],
        secret_hash=row[3],
        expired=bool(row[4]),
        revoked=bool(row[5]),
        agent_role=row[6],
        agent_domains=tuple(json_value(row[7]) or ()),
        agent_human=bool(row[8]),
        agent_removed=bool(row[9]),
    )


def secret_info(found: Sequence[Any] | None, when: When) -> SecretInfo:
    """A ``list_secrets``/``put_secret`` row as a :class:`SecretInfo`."""
    row = _present(found)
    return SecretInfo(
        name=row[0],
        key_id=row[1],
        created_by=row[2],
        created_at=_required(when, row[3]),
        updated_at=_required(when, row[4]),
    )


def sealed(row: Sequence[Any]) -> SealedSecret:
    """A ``(name, ciphertext, key_id)`` row."""
    return SealedSecret(name=row[0], ciphertext=row[1], key_id=row[2])


def stored_response(
    found: Sequence[Any] | None, json_value: Callable[[Any], Any]
) -> StoredResponse:
    """A ``recall_response`` row."""
    row = _present(found)
    return StoredResponse(request_hash=row[0], status=int(row[1]), body=json_value(row[2]))


def unknown_agent(agent: str) -> NotFound:
    """A key was asked for an agent that does not exist (or was removed)."""
    return NotFound(f"no agent {agent!r}", agent=agent)


def revoke_refused(key_id: str, exists: bool) -> NotFound | Conflict:
    """Why a revoke changed nothing: no such key, or revoked already."""
    if not exists:
        return NotFound(f"no API key {key_id!r}", key_id=key_id)
    return Conflict(f"API key {key_id!r} is revoked already", key_id=key_id)


def tally(found: Sequence[Any] | None) -> DenialTally:
    """A ``note_denial``/``denial_tally`` row as a :class:`DenialTally`."""
    row = _present(found)
    return DenialTally(
        denials=int(row[0]),
        failures=int(row[1]),
        retry_after=max(0.0, float(row[3])),
        recorded=bool(row[2]),
    )
