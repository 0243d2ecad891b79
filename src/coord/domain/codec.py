"""JSON encoding used for payloads, results, checkpoints, steps and events."""

from __future__ import annotations

from typing import Any

import orjson

JSONDecodeError = orjson.JSONDecodeError


def dumps(value: Any) -> str:
    """Encode ``value`` as compact JSON text; raise ``TypeError`` if it is not JSON data."""
    return orjson.dumps(value).decode()


def loads(text: str | bytes) -> Any:
    """Decode JSON text."""
    return orjson.loads(text)


def raw(text: str | None) -> Any:
    """Embed already-encoded JSON text as-is inside a value passed to :func:`dumps`."""
    return None if text is None else orjson.Fragment(text)
