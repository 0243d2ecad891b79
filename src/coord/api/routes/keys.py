"""API keys over the API: for callers with manage_keys. A key always takes its
agent's role: roles are never set through a request body."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import Field

from coord.api import pages
from coord.api.deps import Authenticated, require
from coord.api.models import AgentName, Body, Duration
from coord.domain.security import ApiKeyInfo, CreatedKey
from coord.services import keys as service

router = APIRouter(tags=["keys"])


class NewKeyBody(Body):
    """A key for an agent, optionally expiring."""

    agent: AgentName
    expires: Duration | None = Field(None, description="e.g. 30d; none: never expires.")


@router.post("/keys", operation_id="createKey", response_model=CreatedKey, status_code=201)
def create_key(who: Authenticated, body: NewKeyBody) -> CreatedKey:
    """Create a key for an agent; the response is the only time the key is shown."""
    require(who, "manage_keys")
    return service.create_key(
        who.store,
        agent=body.agent,
        role=None,
        expires=body.expires,
        roles=who.server.roles,
        actor=who.agent,
    )


@router.get("/keys", operation_id="listKeys", response_model=pages.Page[ApiKeyInfo])
def list_keys(
    who: Authenticated,
    agent: Annotated[str | None, Query(max_length=64)] = None,
    limit: pages.Limit = 100,
    cursor: pages.Cursor = None,
) -> pages.Page[ApiKeyInfo]:
    """Keys (never their secrets), of one agent or all, oldest first."""
    require(who, "manage_keys")
    return pages.of_list(service.list_keys(who.store, agent), limit, cursor)


@router.delete("/keys/{key_id}", operation_id="revokeKey", response_model=ApiKeyInfo)
def revoke_key(who: Authenticated, key_id: Annotated[str, Path(max_length=64)]) -> ApiKeyInfo:
    """Revoke a key: refused from the next request on."""
    require(who, "manage_keys")
    return service.revoke_key(who.store, key_id, actor=who.agent)
