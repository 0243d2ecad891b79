"""Shared request-body building blocks: strict models (an unknown field is refused,
naming it) and the constrained types of names."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, model_validator

AGENT_NAME = r"^[A-Za-z0-9_.-]+$"
AgentName = Annotated[str, Field(min_length=1, max_length=64, pattern=AGENT_NAME)]
AgentPath = Annotated[str, Path(min_length=1, max_length=64, pattern=AGENT_NAME)]
IdPath = Annotated[str, Path(min_length=1, max_length=64, description="A UUID.")]
TaskName = Annotated[str, Field(min_length=1, max_length=200)]
Text = Annotated[str, Field(min_length=1, max_length=1000)]
Key = Annotated[str, Field(min_length=1, max_length=500)]
Duration = Annotated[
    str | float,
    Field(description='Seconds, or text such as "30s", "10m", "1h30m".'),
]


class Body(BaseModel):
    """A request body: unknown fields are refused (so ``role``, ``owner`` or lease
    fields can never be slipped in)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        # PostgreSQL stores no NUL character in text or JSON: refuse it on every backend,
        # naming where it is, rather than let one database take what the other refuses.
        where = _nul_in(data, "")
        if where is not None:
            raise ValueError(f"{where or 'body'}: text must not contain NUL (\\u0000)")
        return data


def _nul_in(value: Any, path: str) -> str | None:
    """The path of the first string (or key) holding a NUL character, if any."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    items: Any = ()
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    for key, item in items:
        inner = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and "\x00" in key:
            return inner
        found = _nul_in(item, inner)
        if found is not None:
            return found
    return None
