"""Idempotency records of the API's create endpoints (``Idempotency-Key``): the same
key with the same request gives the first response again; with another request, a
conflict (422).

A caller computes ``request_hash`` over what makes the request (method, path, body)
with :func:`request_hash`; ``scope`` keeps callers apart (e.g. the caller's key id),
so one caller's key never answers another's request.
"""

from __future__ import annotations

import hashlib
from typing import Any

from coord.domain.security import StoredResponse
from coord.errors import IdempotencyConflict, InvalidInput
from coord.ports.store import Store

__all__ = ["MAX_KEY", "StoredResponse", "recall", "remember", "request_hash"]

MAX_KEY = 255


def request_hash(*parts: str | bytes) -> str:
    """SHA-256 (hex) over the parts, each length-prefixed so that parts never blur."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


def _check(scope: str, key: str) -> None:
    if not scope:
        raise InvalidInput("an idempotency scope cannot be empty", field="scope")
    if not key or len(key) > MAX_KEY or not key.isprintable():
        raise InvalidInput(
            f"Idempotency-Key: use 1-{MAX_KEY} printable characters", field="Idempotency-Key"
        )


def _same_request(found: StoredResponse, key: str, wanted: str) -> StoredResponse:
    if found.request_hash != wanted:
        raise IdempotencyConflict(f"Idempotency-Key {key!r} was used with another request", key=key)
    return found


def recall(store: Store, scope: str, key: str, request_hash: str) -> StoredResponse | None:
    """The response first given to this key, or None if there is none yet;
    ``IdempotencyConflict`` when the key was used with another request."""
    _check(scope, key)
    found = store.recall_response(scope, key)
    return None if found is None else _same_request(found, key, request_hash)


def remember(
    store: Store, scope: str, key: str, request_hash: str, status: int, body: Any
) -> StoredResponse:
    """Store the response to this key unless one is stored already (the first write
    wins, e.g. of two concurrent requests) and return the one stored;
    ``IdempotencyConflict`` if the stored one answered another request."""
    _check(scope, key)
    if not 100 <= status <= 599:
        raise InvalidInput(f"an HTTP status is 100-599, got {status}", field="status")
    stored = store.remember_response(scope, key, request_hash, status, body)
    return _same_request(stored, key, request_hash)
