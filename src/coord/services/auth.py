"""Who is calling: API key authentication (what the caller may do is
:mod:`coord.services.access`).

Each request costs one indexed lookup (the key with its agent) and no cache, so a
revoked key, a removed agent or an expired key is refused on the very next request.
``last_used_at`` is written at most once a minute per key per process: a write per
request would put a commit on every request's path.
"""

from __future__ import annotations

import logging
import threading
import time

from coord.errors import InvalidInput, StoreError, Unauthenticated
from coord.ports.store import Store
from coord.security.keys import parse_key, secret_matches
from coord.security.rbac import Role, RoleBook, load_roles
from coord.services.access import Principal

__all__ = [
    "Principal",
    "Role",
    "RoleBook",
    "authenticate",
    "default_role",
    "load_roles",
]

logger = logging.getLogger(__name__)

TOUCH_INTERVAL = 60.0  # seconds between two last_used_at writes of one key


def default_role(agent_role: str | None, human: bool) -> str:
    """The role of a key without one: its agent's role, else ``human`` for a person
    and ``agent`` otherwise."""
    if agent_role:
        return agent_role
    return "human" if human else "agent"


class _TouchThrottle:
    """When each key's ``last_used_at`` was last written by this process."""

    def __init__(self, interval: float, max_keys: int = 100_000) -> None:
        self._interval = interval
        self._max_keys = max_keys
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def due(self, key_id: str) -> bool:
        now = time.monotonic()
        with self._lock:
            last = self._last.get(key_id)
            if last is not None and now - last < self._interval:
                return False
            if len(self._last) >= self._max_keys:
                self._last.clear()  # bounded; the cost is one extra write per key
            self._last[key_id] = now
            return True


_touches = _TouchThrottle(TOUCH_INTERVAL)


def _refuse(reason: str, message: str, **data: str) -> Unauthenticated:
    return Unauthenticated(message, reason=reason, **data)


def _bearer_key(authorization: str | None) -> str:
    if authorization is None or not authorization.strip():
        raise _refuse(
            "missing", "missing Authorization header: send 'Authorization: Bearer <API key>'"
        )
    scheme, _, credentials = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":  # RFC 7235: the scheme is case-insensitive
        raise _refuse("not_bearer", "the Authorization header must use the Bearer scheme")
    return credentials.strip()


def authenticate(store: Store, authorization: str | None, roles: RoleBook) -> Principal:
    """The caller of ``Authorization: Bearer KEY``; ``Unauthenticated`` with the reason
    (missing header, not Bearer, malformed, unknown key, wrong secret, expired,
    revoked, agent removed, unknown role). Error data never holds the secret."""
    try:
        key_id, secret = parse_key(_bearer_key(authorization))
    except ValueError as exc:
        raise _refuse("malformed", f"malformed API key: {exc}") from None
    found = store.key_credentials(key_id)
    if found is None:
        raise _refuse("unknown", f"unknown API key {key_id}", key_id=key_id)
    # The secret first: someone without it learns nothing of the key's state.
    if not secret_matches(secret, found.secret_hash):
        raise _refuse("wrong_secret", f"API key {key_id}: wrong secret", key_id=key_id)
    if found.revoked:
        raise _refuse("revoked", f"API key {key_id} was revoked", key_id=key_id)
    if found.expired:
        raise _refuse("expired", f"API key {key_id} has expired", key_id=key_id)
    if found.agent_removed:
        raise _refuse(
            "agent_removed",
            f"the agent {found.agent!r} of API key {key_id} was removed",
            key_id=key_id,
        )
    role_name = found.role or default_role(found.agent_role, found.agent_human)
    try:
        role = roles.role(role_name)
    except InvalidInput as exc:
        raise _refuse("unknown_role", f"API key {key_id}: {exc.message}", key_id=key_id) from None
    if _touches.due(key_id):
        try:
            store.touch_key(key_id)
        except StoreError as exc:  # usage data only: never refuse a request for it
            logger.warning("could not record the use of API key %s: %s", key_id, exc)
    return Principal(
        key_id=key_id,
        agent=found.agent,
        role=role.name,
        permissions=role.permissions,
        domains=role.authority_domains | frozenset(found.agent_domains),
        human=found.agent_human,
    )
