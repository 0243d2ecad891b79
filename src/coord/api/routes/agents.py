"""Agents and their topic subscriptions; ``/me`` (who the key belongs to)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import Field

from coord.api import pages
from coord.api.deps import Authenticated
from coord.api.models import AgentName, AgentPath, Body
from coord.domain.views import AgentInfo
from coord.operations.results import Me, Subscription

router = APIRouter(tags=["agents"])

TopicPath = Annotated[str, Path(min_length=1, max_length=200)]


class NewAgentBody(Body):
    """An agent to register. Its role is set by an operator (`coord agent add --role`),
    never through the API; its authority domains need the admin permission."""

    name: AgentName
    description: str | None = Field(None, max_length=1000)
    human: bool = False
    domains: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=50
    )


@router.get("/me", operation_id="whoami", response_model=Me)
def whoami(who: Authenticated) -> Me:
    """The calling agent, its role, permissions and authority domains."""
    return who.ops.agents.me()


@router.get("/agents", operation_id="listAgents", response_model=pages.Page[AgentInfo])
def list_agents(
    who: Authenticated, limit: pages.Limit = 50, cursor: pages.Cursor = None
) -> pages.Page[AgentInfo]:
    """Registered agents by name."""
    return who.ops.agents.page(limit, cursor)


@router.post(
    "/agents",
    operation_id="createAgent",
    response_model=AgentInfo,
    status_code=201,
)
def create_agent(who: Authenticated, body: NewAgentBody) -> AgentInfo:
    """Register an agent (or bring back a removed one). Authority domains need the
    admin permission: they widen what the agent may do."""
    return who.ops.agents.add(
        body.name,
        description=body.description,
        human=body.human,
        domains=body.domains,
    )


@router.get("/agents/{name}", operation_id="getAgent", response_model=AgentInfo)
def get_agent(who: Authenticated, name: AgentPath) -> AgentInfo:
    """One agent."""
    return who.ops.agents.get(name)


@router.delete("/agents/{name}", operation_id="removeAgent", status_code=204)
def remove_agent(who: Authenticated, name: AgentPath) -> Response:
    """Mark an agent removed (its messages and mailbox are kept)."""
    who.ops.agents.remove(name)
    return Response(status_code=204)


@router.put("/agents/{name}/topics/{topic}", operation_id="subscribe", response_model=Subscription)
def subscribe(who: Authenticated, name: AgentPath, topic: TopicPath) -> Subscription:
    """Subscribe an agent to a topic (itself, or any agent with manage_agents)."""
    return who.ops.agents.subscribe(topic, name)


@router.delete(
    "/agents/{name}/topics/{topic}", operation_id="unsubscribe", response_model=Subscription
)
def unsubscribe(who: Authenticated, name: AgentPath, topic: TopicPath) -> Subscription:
    """Unsubscribe an agent from a topic."""
    return who.ops.agents.unsubscribe(topic, name)
