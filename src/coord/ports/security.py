"""The storage port of API keys, encrypted secrets and API idempotency records.

Every change is written with its event in one transaction (``key.created``,
``key.revoked``, ``secret.set``, ``secret.deleted``, ``secret.rotated``, and
``secret.read`` for each read, ``auth.denied``/``access.denied``/``auth.suppressed``
for refused API requests); events carry names and key ids, never a key secret
or a secret value. Stores only see hashes of key secrets and ciphertexts of secrets.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from coord.domain.security import (
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


class SecurityStore(Protocol):
    """API keys, secrets and idempotency records in a coord database.

    Methods raise ``NotFound`` naming an unknown agent or key and ``Conflict`` for a
    key revoked already; when they raise, nothing was written."""

    # -- API keys -----------------------------------------------------------------------
    def create_key(self, key: NewKey, actor: str | None) -> ApiKeyInfo:
        """Store a key of a live agent (``NotFound`` otherwise) with ``key.created``."""
        ...

    def get_key(self, key_id: str) -> ApiKeyInfo | None:
        """One key, revoked and expired ones included."""
        ...

    def list_keys(self, agent: str | None) -> list[ApiKeyInfo]:
        """Every key (of ``agent`` when given), oldest first."""
        ...

    def revoke_key(self, key_id: str, actor: str | None) -> ApiKeyInfo:
        """Revoke a key at once, with ``key.revoked``; ``NotFound`` or ``Conflict``
        (revoked already)."""
        ...

    def key_credentials(self, key_id: str) -> KeyCredentials | None:
        """The key and its agent, in one indexed lookup (for authentication)."""
        ...

    def touch_key(self, key_id: str) -> None:
        """Set the key's ``last_used_at`` to now (usage data: no event)."""
        ...

    def any_usable_key(self) -> bool:
        """Whether a key exists that is not revoked, not expired, of a live agent."""
        ...

    # -- secrets ------------------------------------------------------------------------
    def put_secret(self, name: str, ciphertext: str, key_id: str, actor: str | None) -> SecretInfo:
        """Create or replace a secret, with ``secret.set``."""
        ...

    def open_secret(self, name: str, actor: str | None, task_id: str | None) -> SealedSecret | None:
        """Read a secret's ciphertext and record ``secret.read`` (with the task that
        read it), in one transaction; None (and no event) if there is none."""
        ...

    def list_secrets(self) -> list[SecretInfo]:
        """Every secret, by name, without values."""
        ...

    def sealed_secrets(self) -> list[SealedSecret]:
        """Every secret's ciphertext (for a key rotation)."""
        ...

    def reseal_secrets(self, changes: Sequence[Reseal], actor: str | None) -> int:
        """Replace ciphertexts that did not change meanwhile, each with
        ``secret.rotated``; return how many were replaced."""
        ...

    def delete_secret(self, name: str, actor: str | None) -> bool:
        """Delete a secret with ``secret.deleted``; False if there is none."""
        ...

    # -- idempotency records ------------------------------------------------------------
    def recall_response(self, scope: str, key: str) -> StoredResponse | None:
        """The response stored for ``(scope, key)``, if any."""
        ...

    def remember_response(
        self, scope: str, key: str, request_hash: str, status: int, body: Any
    ) -> StoredResponse:
        """Store a response unless one is stored for ``(scope, key)`` already (the
        first write wins); return the one stored."""
        ...

    # -- denials of API requests (per client address and window) ---------------------------
    def note_denial(self, denial: Denial, *, window: float, record_limit: int) -> DenialTally:
        """Count a denial in its address's current window (windows are aligned to
        multiples of ``window`` seconds on the store's clock) and, while the window has
        recorded fewer than ``record_limit``, record its event, in one transaction."""
        ...

    def denial_tally(self, address: str, *, window: float) -> DenialTally | None:
        """The address's current window, None if it has no denial."""
        ...

    def summarize_denials(self) -> int:
        """Delete the windows that have ended, recording one ``auth.suppressed`` event
        for each that counted denials it did not record; return how many it recorded."""
        ...
