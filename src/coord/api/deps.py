"""What every request needs: the server's parts, and the authenticated caller.

A request is authenticated (``Authorization: Bearer KEY``), then charged to two token
buckets, its key's and its agent's, so one noisy key or agent is refused with 429
while the others go on. A failed authentication is recorded (``auth.denied``) and
counted against the client's address, which is refused with 429 for the rest of the
window once it failed too often (:mod:`coord.services.denials`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from coord.domain.security import Denial
from coord.errors import RateLimited, Unauthenticated
from coord.operations._sync.local import LocalSurface
from coord.operations.local_parts import LocalParts
from coord.ports.store import Store
from coord.security.ratelimit import RateLimiter
from coord.services import access, auth
from coord.services import denials as denial_service
from coord.services.access import Principal
from coord.services.auth import RoleBook
from coord.services.denials import DenialGuard
from coord.settings import Settings

logger = logging.getLogger(__name__)

# auto_error=False: a missing key is reported by us, as problem+json.
bearer = HTTPBearer(auto_error=False, description="An API key from `coord key create`.")


@dataclass(frozen=True, slots=True)
class Server:
    """The parts a running server shares between requests."""

    store: Store
    settings: Settings
    roles: RoleBook
    limiter: RateLimiter
    denials: DenialGuard  # denials.counts: what was refused, by topic and reason (metrics)
    parts: LocalParts  # the surface's parts; each request acts as its caller
    dev_mode: bool = False  # serve without keys (`coord server --dev`): never in production


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated request: who calls, and the server it calls."""

    principal: Principal
    server: Server

    @property
    def store(self) -> Store:
        """The server's store."""
        return self.server.store

    @property
    def agent(self) -> str:
        """The calling agent's name (what events record as the actor)."""
        return self.principal.agent

    @property
    def ops(self) -> LocalSurface:
        """The operations, as the caller: they decide what it may do."""
        return LocalSurface(self.server.parts.acting_as(self.principal))


def server_of(request: Request) -> Server:
    """The server behind a request."""
    found: Server = request.app.state.coord
    return found


def _dev_principal(agent: str | None) -> Principal:
    return Principal(
        key_id="dev",
        agent=agent or "dev",
        role="admin",
        permissions=frozenset({"admin"}),
        domains=frozenset({"*"}),
        human=True,
    )


def caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    x_coord_agent: Annotated[
        str | None,
        Header(max_length=64, description="Development mode only: the agent to act as."),
    ] = None,
) -> Caller:
    """Authenticate the request and charge it to its key's and agent's buckets."""
    server = server_of(request)
    header = request.headers.get("authorization")
    if server.dev_mode and header is None:
        principal = _dev_principal(x_coord_agent)
    else:
        address = client_address(request)
        server.denials.check(address)
        try:
            principal = auth.authenticate(server.store, header, server.roles)
        except Unauthenticated as exc:
            server.denials.note(_auth_denial(request, address, exc))
            raise
    request.state.coord_principal = principal
    # Both buckets or neither: a refusal by one does not spend the other's token.
    wait = server.limiter.take_all(["key:" + principal.key_id, "agent:" + principal.agent])
    if wait > 0:
        raise RateLimited(
            f"too many requests from agent {principal.agent!r} (key {principal.key_id}); "
            f"retry in {wait:.2f} s",
            retry_after=wait,
        )
    del credentials  # declared for the OpenAPI security scheme; the header is parsed above
    return Caller(principal, server)


Authenticated = Annotated[Caller, Depends(caller)]


def client_address(request: Request) -> str:
    """The client's address: the connection's peer (behind a trusted proxy, the one
    its X-Forwarded-For names, see COORD_API_TRUSTED_PROXIES)."""
    return request.client.host if request.client else "unknown"


def route_template(request: Request) -> str:
    """The matched route's path template (``/api/v1/runs/{run_id}``), never the raw
    path with its ids."""
    route = request.scope.get("route")
    template = getattr(route, "path", None)
    if not isinstance(template, str):
        return "unmatched"
    # The route's own path lacks its router's prefix (/api/v1): take that from the
    # request path, whose last segments the template matched one for one.
    segments = request.url.path.rstrip("/").split("/")
    own = template.rstrip("/").split("/")
    prefix = "/".join(segments[: max(1, len(segments) - len(own) + 1)])
    return (prefix + template) if prefix else template


def _auth_denial(request: Request, address: str, exc: Unauthenticated) -> Denial:
    reason = denial_service.auth_reason(exc.data.get("reason"))
    key_id = exc.data.get("key_id") if reason in denial_service.KNOWN_KEY_REASONS else None
    return Denial(
        kind="auth",
        address=address,
        method=request.method,
        path=route_template(request),
        reason=reason,
        key_id=key_id if isinstance(key_id, str) else None,
    )


def access_denial(request: Request) -> Denial:
    """The ``access.denied`` record of a request answered 403."""
    principal = getattr(request.state, "coord_principal", None)
    return Denial(
        kind="access",
        address=client_address(request),
        method=request.method,
        path=route_template(request),
        reason=denial_service.FORBIDDEN,
        agent=principal.agent if isinstance(principal, Principal) else None,
        key_id=principal.key_id if isinstance(principal, Principal) else None,
    )


def require(who: Caller, permission: str, *, domain: str | None = None) -> None:
    """Refuse (403) unless the caller's role has ``permission`` (and ``domain``)."""
    access.require(who.principal, permission, domain=domain)


def require_self_or(
    who: Caller, agent: str, own: str, others: str, *, domain: str | None = None
) -> None:
    """Acting on ``agent``'s things: ``own`` suffices for the caller's own, anyone
    else's needs ``others``."""
    require(who, own if agent == who.agent else others, domain=domain)
