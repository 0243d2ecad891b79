"""Shared request-body building blocks: strict models (an unknown field is refused,
naming it) and the constrained types of names."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, model_validator

from coord.domain import content

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
    fields can never be slipped in), and so is JSON that is not RFC 8259."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _strict_json(cls, data: Any) -> Any:
        # The body was parsed by Python's json module, which takes NaN and Infinity
        # (and 1e999 as Infinity): refuse them, and the NUL character PostgreSQL cannot
        # store, naming where they are (the domain's rule for all content). The
        # problem handler reads the field from the ContentInvalid. Integers are left
        # to the range of their field (and content integers to the services' encoder).
        found = content.problem_in(data, integers=False)
        if found is not None:
            raise found
        return data
