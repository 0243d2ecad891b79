"""Liveness and readiness: the only paths served without an API key."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from coord.api.deps import server_of
from coord.api.problems import Problem, problem
from coord.errors import CoordError

router = APIRouter(tags=["health"])


class Health(BaseModel):
    """The server's state."""

    status: str
    schema_version: int | None = None


@router.get("/healthz", operation_id="healthz", response_model=Health)
def healthz() -> Health:
    """The server process answers."""
    return Health(status="ok")


@router.get(
    "/readyz",
    operation_id="readyz",
    response_model=Health,
    responses={503: {"model": Problem, "description": "The store is unreachable or not migrated"}},
)
def readyz(request: Request) -> JSONResponse:
    """The store is reachable and its schema is the one this coord needs."""
    store = server_of(request).store
    try:
        status = store.schema_status()
    except CoordError as exc:
        return problem(503, "not_ready", f"the store is unreachable: {exc.message}")
    if not status.up_to_date:
        return problem(
            503,
            "not_ready",
            f"the schema is at version {status.current}, this coord needs {status.target}: "
            "run `coord db upgrade`",
        )
    return JSONResponse(Health(status="ready", schema_version=status.current).model_dump())
