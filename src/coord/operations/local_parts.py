"""What the local implementation of the surface works with: the store (opened on
first use), the principal it acts as, the limits, and the plugin hooks. An App
builds one for itself; the API server builds one per request, as the caller."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from coord.messaging.plugins import ReceiveHook, SendHook
from coord.messaging.waiter import MessageWaiter
from coord.ports.store import Store
from coord.security.rbac import RoleBook
from coord.services.access import LOCAL, Principal
from coord.services.auth import load_roles
from coord.settings import Settings


def _nothing_declared(_store: Store, _workflow: str) -> None:
    """A surface of no App declares no workflow: it starts the registered ones."""


def _no_waiter() -> MessageWaiter:
    raise NotImplementedError("this surface cannot wait for messages")


@dataclass(frozen=True, slots=True)
class LocalParts:
    """The parts of one local surface."""

    store: Callable[[], Store]
    # Read at each call: an App's settings may be replaced after it was built.
    settings: Callable[[], Settings]
    principal: Principal = LOCAL
    roles: RoleBook = field(default_factory=lambda: load_roles(None))
    # Recorded as who acted, for the local principal (the CLI: cli:USER); an API
    # caller is always recorded as its agent.
    local_actor: str | None = None
    # Lists the App keeps appending to: shared, never copied.
    send_hooks: Sequence[SendHook] = ()
    receive_hooks: Sequence[ReceiveHook] = ()
    waiter: Callable[[], MessageWaiter] = _no_waiter
    # Before a run of a workflow is planned or started: the App records its own
    # declaration of it, as it is now (a builder may have grown since it was opened).
    declared: Callable[[Store, str], None] = _nothing_declared

    @property
    def max_message_bytes(self) -> int:
        """The largest message body, in bytes (``COORD_MAX_MESSAGE_BYTES``)."""
        return self.settings().max_message_bytes

    @property
    def max_payload_bytes(self) -> int:
        """The largest task payload, in bytes (``COORD_MAX_PAYLOAD_BYTES``)."""
        return self.settings().max_payload_bytes

    @property
    def actor(self) -> str | None:
        """Who is recorded as acting in events."""
        return self.local_actor if self.principal.local else self.principal.agent

    def acting_as(self, principal: Principal) -> LocalParts:
        """The same parts, acting as ``principal`` (a server's authenticated caller)."""
        return dataclasses.replace(self, principal=principal)
