"""Secrets use cases: set, list, delete, read (each read is an event) and key rotation.

Values are encrypted by a :class:`SecretBox` before they reach the store, and never
go into events, errors or log lines. The box is built from the keys configured in
``COORD_SECRET_KEYS`` and/or ``COORD_SECRET_KEYS_FILE`` (see :func:`open_box`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from coord.domain.files import unreadable
from coord.domain.security import Reseal, SecretInfo, check_secret_name
from coord.errors import ConfigError, InvalidInput, NotFound, SecretUnavailable
from coord.ports.store import Store
from coord.security.secret_box import SecretBox, generate_fernet_key

__all__ = [
    "MAX_SECRET_BYTES",
    "SecretBox",
    "TaskSecrets",
    "delete_secret",
    "generate_fernet_key",
    "list_secrets",
    "open_box",
    "read_secret",
    "rotate",
    "set_secret",
]

MAX_SECRET_BYTES = 64 * 1024
_SOURCES = "COORD_SECRET_KEYS or COORD_SECRET_KEYS_FILE"


def _name(name: str) -> str:
    try:
        return check_secret_name(name)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="name") from None


def open_box(keys: str | None, keys_file: str | None) -> SecretBox:
    """The box of the configured keys: ``keys`` (comma-separated) first, then the
    lines of ``keys_file`` (blank lines and ``#`` comments skipped). The first key
    encrypts. ``ConfigError`` naming the setting when none is configured, the file
    cannot be read or a key is not a Fernet key."""
    found: list[str] = []
    if keys:
        found += [k.strip() for k in keys.split(",") if k.strip()]
    if keys_file:
        try:
            lines = Path(keys_file).read_text("utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"COORD_SECRET_KEYS_FILE: {unreadable(keys_file, exc)}") from None
        found += [s for s in (line.strip() for line in lines) if s and not s.startswith("#")]
    if not found:
        raise ConfigError(
            f"no secret encryption key configured: set {_SOURCES} "
            "(make a key with `coord secret keygen`)"
        )
    try:
        return SecretBox(found)
    except ValueError as exc:
        raise ConfigError(f"{_SOURCES}: {exc}") from None


def set_secret(
    store: Store, name: str, value: str, box: SecretBox, *, actor: str | None
) -> SecretInfo:
    """Store ``value`` encrypted under ``name`` (replacing any value it had)."""
    _name(name)
    if not value:
        raise InvalidInput("a secret's value cannot be empty", field="value")
    if len(value.encode("utf-8")) > MAX_SECRET_BYTES:
        raise InvalidInput(f"a secret's value is at most {MAX_SECRET_BYTES} bytes", field="value")
    return store.put_secret(name, box.encrypt(value), box.key_id, actor)


def list_secrets(store: Store) -> list[SecretInfo]:
    """Every secret by name, with the id of the key that encrypted it (no values)."""
    return store.list_secrets()


def delete_secret(store: Store, name: str, *, actor: str | None) -> None:
    """Delete a secret; ``NotFound`` if there is none."""
    if not store.delete_secret(_name(name), actor):
        raise NotFound(f"no secret {name!r}", name=name)


def read_secret(
    store: Store, name: str, box: SecretBox, *, actor: str | None, task_id: str | None = None
) -> str:
    """The value of a secret, recording a ``secret.read`` event (with the task that
    read it); ``SecretUnavailable`` if there is none or no key decrypts it."""
    _name(name)
    sealed = store.open_secret(name, actor, task_id)
    if sealed is None:
        raise SecretUnavailable(f"no secret {name!r}", name=name)
    return box.decrypt(name, sealed.ciphertext, sealed.key_id)


def rotate(store: Store, box: SecretBox, *, actor: str | None) -> int:
    """Re-encrypt every secret not under the box's first key; return how many.

    All or nothing: if a secret cannot be decrypted by any configured key, nothing
    is written and ``SecretUnavailable`` names it. A secret set again while this
    runs keeps its new value."""
    changes = [
        Reseal(s.name, s.ciphertext, box.reencrypt(s.name, s.ciphertext, s.key_id), box.key_id)
        for s in store.sealed_secrets()
        if s.key_id != box.key_id
    ]
    return store.reseal_secrets(changes, actor) if changes else 0


class TaskSecrets:
    """What ``ctx.secret(NAME)`` calls inside handlers: reads a secret for a task.

    The box is built on the first read, so apps that use no secret need no key."""

    def __init__(
        self, store: Callable[[], Store], keys: Callable[[], tuple[str | None, str | None]]
    ) -> None:
        self._store = store
        self._keys = keys
        self._box: SecretBox | None = None
        self._lock = threading.Lock()

    def _opened(self) -> SecretBox:
        with self._lock:
            if self._box is None:
                self._box = open_box(*self._keys())
            return self._box

    def __call__(self, name: str, task_id: str, actor: str) -> str:
        """The value of secret ``name`` read by task ``task_id`` (run by ``actor``)."""
        box = self._opened()
        return read_secret(self._store(), name, box, actor=actor, task_id=task_id)
