"""The API key format: ``coord_`` + a 12-character key id + ``_`` + a 43-character
secret (32 random bytes, URL-safe base64).

The prefix makes a leaked key recognisable (secret scanners, logs); the id finds the
stored row with one primary-key lookup; only the SHA-256 of the secret is stored. A
slow password hash would add nothing: the secret has 256 random bits, so nobody can
guess it from its hash, and a fast hash keeps authentication cheap on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from dataclasses import dataclass

PREFIX = "coord_"
ID_LENGTH = 12
SECRET_LENGTH = 43  # base64 of 32 bytes, without padding
KEY_LENGTH = len(PREFIX) + ID_LENGTH + 1 + SECRET_LENGTH
_ID_ALPHABET = string.ascii_lowercase + string.digits
_SECRET_ALPHABET = frozenset(string.ascii_letters + string.digits + "-_")


@dataclass(frozen=True, slots=True)
class GeneratedKey:
    """A new key: its id, its secret and the full text given to its owner."""

    id: str
    secret: str

    @property
    def text(self) -> str:
        """The key as the client sends it: ``coord_<id>_<secret>``."""
        return f"{PREFIX}{self.id}_{self.secret}"

    @property
    def secret_hash(self) -> str:
        """What the store keeps."""
        return hash_secret(self.secret)

    def __repr__(self) -> str:  # never print the secret by accident
        return f"GeneratedKey(id={self.id!r})"


def generate_key() -> GeneratedKey:
    """A new random key."""
    key_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(ID_LENGTH))
    return GeneratedKey(key_id, secrets.token_urlsafe(32))


def is_key_id(text: str) -> bool:
    """Whether ``text`` looks like a key id (12 lowercase letters and digits)."""
    return len(text) == ID_LENGTH and all(c in _ID_ALPHABET for c in text)


def parse_key(text: str) -> tuple[str, str]:
    """Split a key into ``(key_id, secret)``; ``ValueError`` saying what is wrong
    (never repeating the text, which may be a real secret mistyped)."""
    if not text.startswith(PREFIX):
        raise ValueError(f"an API key starts with {PREFIX!r}")
    if len(text) != KEY_LENGTH:
        raise ValueError(f"an API key has {KEY_LENGTH} characters, this one {len(text)}")
    key_id, sep, secret = text[len(PREFIX) :].partition("_")
    # The secret may itself contain '_': split at the first one only, then check sizes.
    if not sep or not is_key_id(key_id) or len(secret) != SECRET_LENGTH:
        raise ValueError(f"an API key reads {PREFIX}<12-character id>_<43-character secret>")
    if not set(secret) <= _SECRET_ALPHABET:
        raise ValueError("an API key's secret is URL-safe base64")
    return key_id, secret


def hash_secret(secret: str) -> str:
    """The SHA-256 of a key secret, in hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    """Compare in constant time, so response times reveal nothing of the hash."""
    return hmac.compare_digest(hash_secret(secret), stored_hash)
