"""Signed checkpoints of the audit ledger: the chain's head, signed with Ed25519.

A checkpoint kept away from the database is what catches an attacker who can write
to it: deleting the tail of the chain (and moving the head back), or rewriting the
whole chain with fresh hashes, leaves a chain that verifies on its own but no longer
holds the entry the checkpoint covers.

The file is JSON: ``version`` (1), ``seq``, ``hash`` and ``event_id`` of the head,
``created_at`` (UTC ISO-8601), ``public_key`` (base64 of the raw 32-byte Ed25519
key that signed it, for information: only a key the verifier trusts is used), and
``signature``: base64 of the Ed25519 signature over the RFC 8785 canonical JSON of
every other field.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from coord.domain import bounds
from coord.errors import InvalidInput

CHECKPOINT_VERSION = 1
_HASH = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The fields of a checkpoint file that verification uses."""

    seq: int
    hash: str
    event_id: int
    created_at: str
    public_key: str


def generate_key() -> tuple[bytes, bytes]:
    """A new Ed25519 key: (private key PEM, unencrypted PKCS 8; public key PEM)."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return private, _public_pem(key.public_key())


def _public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _raw(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def load_private_key(pem: bytes) -> Ed25519PrivateKey:
    """An Ed25519 private key from PEM; ``InvalidInput`` for anything else."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"not an unencrypted PEM private key ({exc})", field="key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidInput("the signing key is not an Ed25519 key", field="key")
    return key


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM: a public key, or a private key's public half."""
    if b"PRIVATE KEY" in pem:
        return load_private_key(pem).public_key()
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"not a PEM public key ({exc})", field="public_key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidInput("the public key is not an Ed25519 key", field="public_key")
    return key


def public_key_pem(pem: bytes) -> bytes:
    """The public key PEM of a private (or public) key PEM."""
    return _public_pem(load_public_key(pem))


def _signed_bytes(fields: dict[str, Any]) -> bytes:
    try:
        return rfc8785.dumps({k: v for k, v in fields.items() if k != "signature"})
    except (rfc8785.CanonicalizationError, TypeError) as exc:
        raise InvalidInput(f"checkpoint: not canonical JSON data ({exc})") from None


def sign_checkpoint(
    private_pem: bytes, *, seq: int, hash: str, event_id: int, created_at: datetime
) -> dict[str, Any]:
    """A checkpoint of the head ``seq``/``hash``/``event_id``, signed."""
    key = load_private_key(private_pem)
    fields: dict[str, Any] = {
        "version": CHECKPOINT_VERSION,
        "seq": seq,
        "hash": hash,
        "event_id": event_id,
        "created_at": created_at.isoformat(timespec="seconds"),
        "public_key": _raw(key.public_key()),
    }
    signature = key.sign(_signed_bytes(fields))
    return {**fields, "signature": base64.b64encode(signature).decode()}


def parse_checkpoint(data: Any) -> Checkpoint:
    """The checkpoint in ``data`` (parsed JSON); ``InvalidInput`` if it is not one."""
    if not isinstance(data, dict):
        raise InvalidInput("checkpoint: not a JSON object")
    if data.get("version") != CHECKPOINT_VERSION:
        raise InvalidInput(f"checkpoint: version {data.get('version')!r} is not supported")
    wanted = {
        "seq": int,
        "hash": str,
        "event_id": int,
        "created_at": str,
        "public_key": str,
        "signature": str,
    }
    for name, kind in wanted.items():
        value = data.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise InvalidInput(f"checkpoint: {name} is missing or not a {kind.__name__}")
    if data["seq"] < 0 or not _HASH.match(data["hash"]):
        raise InvalidInput("checkpoint: seq or hash is malformed")
    for name in ("seq", "event_id"):
        if not 0 <= data[name] <= bounds.MAX_ID:
            raise InvalidInput(
                f"checkpoint: {name} must be between 0 and {bounds.MAX_ID}",
                field=f"checkpoint.{name}",
            )
    return Checkpoint(
        data["seq"], data["hash"], data["event_id"], data["created_at"], data["public_key"]
    )


def signature_problem(data: dict[str, Any], public_pem: bytes) -> str | None:
    """Why the checkpoint's signature does not hold under the trusted key (None: it
    holds). The key named inside the file is never trusted on its own: anyone who
    edits the file can replace it along with the signature."""
    trusted = load_public_key(public_pem)
    try:
        signature = base64.b64decode(str(data.get("signature")), validate=True)
    except (binascii.Error, ValueError):
        return "the checkpoint's signature is not base64: the file was altered"
    try:
        trusted.verify(signature, _signed_bytes(data))
    except InvalidSignature:
        if data.get("public_key") != _raw(trusted):
            return (
                "the checkpoint's signature does not verify: it was signed by another "
                "key than the trusted one, or the file was altered"
            )
        return "the checkpoint's signature does not verify: the file was altered"
    return None
