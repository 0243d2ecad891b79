"""API keys, secrets and idempotency records: the records stores move around, the
read models people see, and the topics of their events.

No value here ever holds a key's secret or a secret's plaintext except
:attr:`CreatedKey.key` (shown once, when the key is made): stores keep a SHA-256 of
the key secret and a Fernet token of each secret value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

KEY_CREATED = "key.created"
KEY_REVOKED = "key.revoked"
SECRET_SET = "secret.set"
SECRET_READ = "secret.read"
SECRET_DELETED = "secret.deleted"
SECRET_ROTATED = "secret.rotated"

_SECRET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


def check_secret_name(name: str) -> str:
    """Return ``name`` if it is a valid secret name; raise ``ValueError`` saying why not."""
    if not isinstance(name, str) or not _SECRET_NAME.match(name):
        raise ValueError(
            f"invalid secret name {name!r}: use 1-64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    return name


class KeyState(StrEnum):
    """Whether a key still authenticates."""

    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


class _View(BaseModel):
    # defer_build: a model's validators are built when it is first used, not when its
    # module is imported; a command that shows tasks should not pay for every view.
    model_config = ConfigDict(frozen=True, defer_build=True)


class ApiKeyInfo(_View):
    """An API key as people see it: never its secret.

    ``role`` is the key's own role; None means it takes its agent's role."""

    id: str
    agent: str
    role: str | None
    state: KeyState
    created_by: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class CreatedKey(_View):
    """A new key: its record and the full key text, which is shown this once only."""

    info: ApiKeyInfo
    key: str


class SecretInfo(_View):
    """A stored secret without its value: its name and which key encrypted it."""

    name: str
    key_id: str
    created_by: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class NewKey:
    """A key to store: its id and the SHA-256 (hex) of its secret.

    ``expires_in`` is in seconds from now, on the store's clock (None: never)."""

    id: str
    agent: str
    role: str | None
    secret_hash: str
    expires_in: float | None


@dataclass(frozen=True, slots=True)
class KeyCredentials:
    """What authenticating a key needs, read in one lookup: the key and its agent.

    ``expired`` is decided by the store's clock (the database's on PostgreSQL)."""

    id: str
    agent: str
    role: str | None
    secret_hash: str
    expired: bool
    revoked: bool
    agent_role: str | None
    agent_domains: tuple[str, ...]
    agent_human: bool
    agent_removed: bool


@dataclass(frozen=True, slots=True)
class SealedSecret:
    """A secret as stored: its Fernet token and the id of the key that made it."""

    name: str
    ciphertext: str
    key_id: str


@dataclass(frozen=True, slots=True)
class Reseal:
    """A secret re-encrypted by a rotation. ``old_ciphertext`` guards the write: a
    secret set again meanwhile is left alone."""

    name: str
    old_ciphertext: str
    ciphertext: str
    key_id: str


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """The first response given to a request with an idempotency key."""

    request_hash: str
    status: int
    body: Any


AUTH_DENIED = "auth.denied"
ACCESS_DENIED = "access.denied"
AUTH_SUPPRESSED = "auth.suppressed"


@dataclass(frozen=True, slots=True)
class Denial:
    """One refused API request: a failed authentication (``auth``, answered 401) or a
    valid key lacking the permission (``access``, answered 403).

    ``path`` is the route's template (``/api/v1/runs/{run_id}``), never the raw path;
    nothing here ever holds a key or its secret."""

    kind: str  # "auth" or "access"
    address: str
    method: str
    path: str
    reason: str
    agent: str | None = None
    key_id: str | None = None

    @property
    def topic(self) -> str:
        """The topic of its event."""
        return AUTH_DENIED if self.kind == "auth" else ACCESS_DENIED

    def event_data(self) -> dict[str, Any]:
        """The data of its event."""
        data: dict[str, Any] = {
            "address": self.address,
            "method": self.method,
            "path": self.path,
            "reason": self.reason,
        }
        if self.agent is not None:
            data["agent"] = self.agent
        if self.key_id is not None:
            data["key_id"] = self.key_id
        return data


@dataclass(frozen=True, slots=True)
class DenialTally:
    """What one client address did in the current window: its denials, how many of
    them were failed authentications, and the seconds left in the window."""

    denials: int
    failures: int
    retry_after: float
    recorded: bool = False  # whether the denial just noted was recorded as an event
