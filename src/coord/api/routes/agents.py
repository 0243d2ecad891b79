"""Agents and their topic subscriptions; ``/me`` (who the key belongs to)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field

from coord.api import pages
from coord.api.deps import Authenticated, require, require_self_or
from coord.api.models import AgentName, AgentPath, Body
from coord.domain.views import AgentInfo
from coord.services import messages as service

router = APIRouter(tags=["agents"])

TopicPath = Annotated[str, Path(min_length=1, max_length=200)]


class Me(BaseModel):
    """The caller as the server knows it."""

    agent: str
    key_id: str
    role: str
    permissions: list[str]
    domains: list[str]
    human: bool


class NewAgentBody(Body):
    """An agent to register. Its role is set by an operator (`coord agent add --role`),
    never through the API."""

    name: AgentName
    description: str | None = Field(None, max_length=1000)
    human: bool = False
    domains: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=50
    )


class Subscription(BaseModel):
    """Whether a subscription call changed anything."""

    agent: str
    topic: str
    changed: bool


@router.get("/me", operation_id="whoami", response_model=Me)
def whoami(who: Authenticated) -> Me:
    """The calling agent, its role, permissions and authority domains."""
    p = who.principal
    return Me(
        agent=p.agent,
        key_id=p.key_id,
        role=p.role,
        permissions=sorted(p.permissions),
        domains=sorted(p.domains),
        human=p.human,
    )


@router.get("/agents", operation_id="listAgents", response_model=pages.Page[AgentInfo])
def list_agents(
    who: Authenticated, limit: pages.Limit = 50, cursor: pages.Cursor = None
) -> pages.Page[AgentInfo]:
    """Registered agents by name."""
    require(who, "read_agents")
    after = pages.decode(cursor)
    agents = [a for a in service.list_agents(who.store) if after is None or a.name > str(after)]
    agents.sort(key=lambda a: a.name)
    return pages.page(agents[: limit + 1], limit, lambda a: a.name)


@router.post(
    "/agents",
    operation_id="createAgent",
    response_model=AgentInfo,
    status_code=201,
)
def create_agent(who: Authenticated, body: NewAgentBody) -> AgentInfo:
    """Register an agent (or bring back a removed one). Authority domains need the
    admin permission: they widen what the agent may do."""
    require(who, "manage_agents")
    if body.domains:
        require(who, "admin")
    return service.add_agent(
        who.store,
        body.name,
        domains=body.domains,
        description=body.description,
        human=body.human,
        actor=who.agent,
    )


@router.get("/agents/{name}", operation_id="getAgent", response_model=AgentInfo)
def get_agent(who: Authenticated, name: AgentPath) -> AgentInfo:
    """One agent."""
    require(who, "read_agents")
    return service.get_agent(who.store, name)


@router.delete("/agents/{name}", operation_id="removeAgent", status_code=204)
def remove_agent(who: Authenticated, name: AgentPath) -> Response:
    """Mark an agent removed (its messages and mailbox are kept)."""
    require(who, "manage_agents")
    service.remove_agent(who.store, name, actor=who.agent)
    return Response(status_code=204)


@router.put("/agents/{name}/topics/{topic}", operation_id="subscribe", response_model=Subscription)
def subscribe(who: Authenticated, name: AgentPath, topic: TopicPath) -> Subscription:
    """Subscribe an agent to a topic (itself, or any agent with manage_agents)."""
    _may_subscribe(who, name, topic)
    changed = service.subscribe(who.store, name, topic, actor=who.agent)
    return Subscription(agent=name, topic=topic, changed=changed)


@router.delete(
    "/agents/{name}/topics/{topic}", operation_id="unsubscribe", response_model=Subscription
)
def unsubscribe(who: Authenticated, name: AgentPath, topic: TopicPath) -> Subscription:
    """Unsubscribe an agent from a topic."""
    _may_subscribe(who, name, topic)
    changed = service.unsubscribe(who.store, name, topic, actor=who.agent)
    return Subscription(agent=name, topic=topic, changed=changed)


def _may_subscribe(who: Authenticated, agent: str, topic: str) -> None:
    """Its own subscriptions need ``subscribe``, another agent's ``manage_agents``; a
    topic that requires an authority domain needs it too."""
    require_self_or(
        who,
        agent,
        "subscribe",
        "manage_agents",
        domain=who.server.roles.required_domain("topic", topic),
    )
