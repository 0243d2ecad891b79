"""API key use cases: create (the full key is returned once), list, revoke, and the
check the server makes before it starts (is there any key that works?)."""

from __future__ import annotations

from datetime import timedelta

from coord.domain.durations import parse_duration
from coord.domain.messages import check_agent_name
from coord.domain.security import ApiKeyInfo, CreatedKey, NewKey
from coord.errors import InvalidInput, NotFound
from coord.ports.store import Store
from coord.security.keys import generate_key, is_key_id
from coord.security.rbac import RoleBook
from coord.services.auth import default_role


def _expires_in(expires: str | float | timedelta | None) -> float | None:
    if expires is None:
        return None
    try:
        seconds = parse_duration(expires)
    except ValueError as exc:
        raise InvalidInput(f"expires: {exc}", field="expires") from None
    if seconds <= 0:
        raise InvalidInput("expires: a key must live longer than 0s", field="expires")
    return seconds


def create_key(
    store: Store,
    *,
    agent: str,
    role: str | None,
    expires: str | float | timedelta | None,
    roles: RoleBook,
    actor: str | None,
) -> CreatedKey:
    """Make a key for ``agent``; the returned :attr:`CreatedKey.key` is the only copy.

    ``role`` (None: the agent's role, see :func:`~coord.services.auth.default_role`)
    must be a role of ``roles``; ``expires`` is a duration from now (None: never).
    ``NotFound`` for an unknown agent, ``InvalidInput`` for an unknown role or a bad
    duration."""
    try:
        check_agent_name(agent)
    except ValueError as exc:
        raise InvalidInput(f"agent: {exc}", field="agent") from None
    expires_in = _expires_in(expires)
    owner = store.get_agent(agent)
    if owner is None:
        raise NotFound(f"no agent {agent!r}", agent=agent)
    if role is not None:
        roles.role(role)
    else:  # a descriptive agent role ("review") is no RBAC role: say so now, not later
        inherited = default_role(owner.role, owner.human)
        if roles.get(inherited) is None:
            raise InvalidInput(
                f"agent {agent!r} would get its role {inherited!r}, which is not a known role "
                f"(known roles: {', '.join(roles.names)}); give the key one of them",
                role=inherited,
            )
    generated = generate_key()
    new = NewKey(
        id=generated.id,
        agent=agent,
        role=role,
        secret_hash=generated.secret_hash,
        expires_in=expires_in,
    )
    info = store.create_key(new, actor)
    return CreatedKey(info=info, key=generated.text)


def list_keys(store: Store, agent: str | None = None) -> list[ApiKeyInfo]:
    """Every key (of ``agent`` when given), oldest first, revoked ones included."""
    return store.list_keys(agent)


def get_key(store: Store, key_id: str) -> ApiKeyInfo:
    """One key; ``NotFound`` if there is none."""
    found = store.get_key(key_id) if is_key_id(key_id) else None
    if found is None:
        raise NotFound(f"no API key {key_id!r}", key_id=key_id)
    return found


def revoke_key(store: Store, key_id: str, *, actor: str | None) -> ApiKeyInfo:
    """Revoke a key, effective on the next request; ``NotFound`` or ``Conflict`` if
    it was revoked already."""
    if not is_key_id(key_id):
        raise NotFound(f"no API key {key_id!r} (a key id has 12 letters and digits)")
    return store.revoke_key(key_id, actor)


def any_usable_key(store: Store) -> bool:
    """Whether a key exists that is not revoked, not expired, of a live agent (the
    server refuses to start without one)."""
    return store.any_usable_key()
