"""``Idempotency-Key`` on create endpoints: the same key with the same request gets the
first response again (status and body); the same key with another request is refused
with 422. Records are per calling agent and operation.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Header
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from coord.api.deps import Caller
from coord.errors import InvalidInput
from coord.services import idempotency

IdempotencyKey = Annotated[
    str | None,
    Header(
        min_length=1,
        max_length=200,
        description="Makes the request safe to retry: the same key and body give the "
        "first response again; the same key with another body is refused (422).",
    ),
]

Outcome = tuple[int, Any]  # (status, JSON-able body)


def the_key(header: str | None, body_key: str | None) -> str | None:
    """The object's idempotency key: the body's ``key`` or the header, which must agree
    when both are given."""
    if header is not None and body_key is not None and header != body_key:
        raise InvalidInput("key: differs from the Idempotency-Key header", field="key")
    return body_key or header


def respond(
    who: Caller,
    operation: str,
    key: str | None,
    request: BaseModel | None,
    act: Callable[[], Outcome],
) -> JSONResponse:
    """Run ``act`` once per key: a repeat returns the stored response."""
    if key is None:
        status, body = act()
        return JSONResponse(_jsonable(body), status_code=status)
    scope = f"{who.agent}:{operation}"
    digest = _digest(operation, request)
    stored = idempotency.recall(who.store, scope, key, digest)
    replayed = stored is not None
    if stored is None:
        status, body = act()
        stored = idempotency.remember(who.store, scope, key, digest, status, _jsonable(body))
    response = JSONResponse(stored.body, status_code=stored.status)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def _jsonable(body: Any) -> Any:
    # model_dump is several times faster than FastAPI's generic jsonable_encoder.
    if isinstance(body, BaseModel):
        return body.model_dump(mode="json")
    if isinstance(body, list):
        return [_jsonable(item) for item in body]
    return jsonable_encoder(body)


def _digest(operation: str, request: BaseModel | None) -> str:
    payload = None if request is None else request.model_dump(mode="json")
    # The standard json module: it takes any integer (orjson stops at 64 bits), and the
    # body is validated further on anyway.
    data = json.dumps([operation, payload], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(data.encode()).hexdigest()
