"""Access control: who the caller is to coord (a :class:`Principal`) and what it may
do. Every face reaches the operations through :mod:`coord.operations`, whose local
implementation asks these functions before it acts, so the REST API, the CLI, the
SDK and the faces to come decide alike.

A principal is an API key's agent with its role (over HTTP), or the local principal
of code that opened the database itself (an ``App``, the CLI without ``--api-url``):
it holds the database already, so it is an administrator that may act as any agent.
"""

from __future__ import annotations

from dataclasses import dataclass

from coord.errors import Forbidden, InvalidInput
from coord.security.rbac import ALL_DOMAINS, PERMISSIONS

LOCAL_AGENT = "coord:local"


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: the key, its agent, the role and what it allows."""

    key_id: str
    agent: str
    role: str
    permissions: frozenset[str]
    domains: frozenset[str]
    human: bool
    # Code holding the database (an App, the CLI on the database): it may act as any
    # agent, and names the agent it acts for when an operation needs one.
    local: bool = False

    def can(self, permission: str) -> bool:
        """Whether the role grants ``permission`` (``admin`` grants every one)."""
        return "admin" in self.permissions or permission in self.permissions

    def in_domain(self, domain: str | None) -> bool:
        """Whether the caller acts in ``domain`` (None: nothing is required; ``*``
        among the caller's domains: every domain)."""
        return domain is None or ALL_DOMAINS in self.domains or domain in self.domains


LOCAL = Principal(
    key_id="local",
    agent=LOCAL_AGENT,
    role="admin",
    permissions=frozenset({"admin"}),
    domains=frozenset({ALL_DOMAINS}),
    human=False,
    local=True,
)
"""The principal of code that opened the database itself."""


def require(principal: Principal, permission: str, *, domain: str | None = None) -> None:
    """``Forbidden`` unless the caller has ``permission`` (and acts in ``domain``)."""
    if permission not in PERMISSIONS:  # a typo in the caller's code, not the user's fault
        raise ValueError(f"unknown permission {permission!r}")
    if not principal.can(permission):
        raise Forbidden(
            f"agent {principal.agent!r} (role {principal.role!r}) lacks the permission "
            f"{permission!r}",
            permission=permission,
            role=principal.role,
            agent=principal.agent,
        )
    if not principal.in_domain(domain):
        raise Forbidden(
            f"agent {principal.agent!r} (role {principal.role!r}) does not act in the "
            f"authority domain {domain!r}",
            domain=domain,
            role=principal.role,
            agent=principal.agent,
        )


def require_self_or(
    principal: Principal, agent: str, own: str, others: str, *, domain: str | None = None
) -> None:
    """Acting on ``agent``'s things: ``own`` suffices for the caller's own, anyone
    else's needs ``others``."""
    require(principal, own if agent == principal.agent else others, domain=domain)


def acting_agent(principal: Principal, agent: str | None, field: str = "agent") -> str:
    """The agent an operation acts for: ``agent`` when given, else the caller's own.
    The local principal acts for no agent of its own, so it must name one."""
    if agent is not None:
        return agent
    if principal.local:
        raise InvalidInput(
            f"{field}: name the agent (code on the database acts as no agent of its own)",
            field=field,
        )
    return principal.agent


def require_sender(principal: Principal, sender: str | None) -> str:
    """The sender of a message: the caller itself. Only the local principal may send
    as another agent; over the API, naming another sender is refused, never honoured."""
    if sender is None or sender == principal.agent or principal.local:
        return acting_agent(principal, sender, "sender")
    raise Forbidden(
        f"sender: you are {principal.agent!r}; a message is always sent as the caller, "
        f"never as {sender!r}",
        field="sender",
    )


def inbox_reader(principal: Principal) -> str | None:
    """Whose messages the caller may see: None for all of them (read_all_inboxes),
    else its own. Decided before any lookup, so a refusal tells nothing of an id."""
    if principal.can("read_all_inboxes"):
        return None
    require(principal, "read_own_inbox")
    return principal.agent
