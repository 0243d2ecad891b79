"""Encryption of secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) with key rotation.

A box holds a list of keys: the first encrypts, every one decrypts. Rotation is
adding a new key in front, re-encrypting (``coord secret rotate``), then dropping
the old key. Each ciphertext is stored with the id of the key that made it (a short
fingerprint, which reveals nothing of the key), so people can see what is left to
rotate. Nothing here ever puts a key, a value or a ciphertext into a message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from coord.errors import SecretUnavailable


def key_fingerprint(key: str) -> str:
    """The id of a Fernet key: the first 12 hex digits of the SHA-256 of its text."""
    return hashlib.sha256(key.strip().encode()).hexdigest()[:12]


def generate_fernet_key() -> str:
    """A new random Fernet key (URL-safe base64 of 32 bytes)."""
    return Fernet.generate_key().decode()


class SecretBox:
    """Encrypts with the first of ``keys``, decrypts with any of them.

    ``ValueError`` if there is no key or one is not a Fernet key (its position is
    named, never its text)."""

    __slots__ = ("_fernet", "key_ids")

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("no encryption key given")
        fernets = []
        for number, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key.strip().encode()))
            except (ValueError, TypeError):
                raise ValueError(
                    f"key {number} of {len(keys)} is not a Fernet key (32 bytes, URL-safe "
                    "base64: make one with `coord secret keygen`)"
                ) from None
        self._fernet = MultiFernet(fernets)
        self.key_ids: tuple[str, ...] = tuple(key_fingerprint(k) for k in keys)

    @property
    def key_id(self) -> str:
        """The id of the key that encrypts."""
        return self.key_ids[0]

    def __repr__(self) -> str:
        return f"SecretBox(key_ids={self.key_ids!r})"

    def encrypt(self, value: str) -> str:
        """The Fernet token of ``value`` under the first key."""
        return self._fernet.encrypt(value.encode("utf-8")).decode("ascii")

    def decrypt(self, name: str, ciphertext: str, key_id: str | None = None) -> str:
        """The value of secret ``name`` (stored under ``key_id``); ``SecretUnavailable``
        if no configured key decrypts it."""
        try:
            return self._fernet.decrypt(ciphertext.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise self._unavailable(name, key_id) from None

    def reencrypt(self, name: str, ciphertext: str, key_id: str | None = None) -> str:
        """The token re-encrypted under the first key (its timestamp is kept)."""
        try:
            return self._fernet.rotate(ciphertext.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError):
            raise self._unavailable(name, key_id) from None

    def _unavailable(self, name: str, key_id: str | None) -> SecretUnavailable:
        made_by = "" if key_id is None else f" (it was encrypted with key {key_id})"
        return SecretUnavailable(
            f"secret {name!r} cannot be decrypted by the configured key(s) "
            f"{', '.join(self.key_ids)}{made_by}; add the key it was encrypted with to "
            "COORD_SECRET_KEYS or COORD_SECRET_KEYS_FILE",
            name=name,
            key_id=key_id,
        )
