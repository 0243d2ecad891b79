"""Roles and permissions, loaded from a YAML role file (or the built-in default).

The file reads::

    roles:
      NAME: {permissions: [...], authority_domains: [...], description: "..."}
    requirements:               # optional
      workflows: {NAME: DOMAIN} # a run inherits its workflow's domain
      topics: {NAME: DOMAIN}

Permissions come from a fixed vocabulary (:data:`PERMISSIONS`), checked on load, so a
typo fails at start-up instead of silently granting nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from coord.domain.files import unreadable
from coord.errors import ConfigError, InvalidInput

PERMISSIONS = frozenset(
    {
        "admin",
        "manage_keys",
        "manage_agents",
        "read_agents",
        "send_message",
        "read_own_inbox",
        "read_all_inboxes",
        "subscribe",
        "enqueue_task",
        "read_tasks",
        "manage_tasks",
        "start_run",
        "read_runs",
        "control_runs",
        "approve_gate",
        "waive_gate",
        "set_budget",
        "read_events",
        "read_audit",
        "manage_secrets",
    }
)
ALL_DOMAINS = "*"
DEFAULT_FILE = "default_roles.yaml"
BUILT_IN = "the built-in roles"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_ROLE_KEYS = frozenset({"permissions", "authority_domains", "description"})
_KINDS = ("workflows", "topics")


@dataclass(frozen=True, slots=True)
class Role:
    """A named set of permissions and the authority domains it acts in."""

    name: str
    permissions: frozenset[str]
    authority_domains: frozenset[str] = frozenset()
    description: str | None = None


@dataclass(frozen=True, slots=True)
class RoleBook:
    """Every role, and the domains that workflows and topics require."""

    roles: Mapping[str, Role]
    requirements: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    source: str = "the built-in roles"

    @property
    def names(self) -> tuple[str, ...]:
        """The role names, sorted."""
        return tuple(sorted(self.roles))

    def get(self, name: str) -> Role | None:
        """The role of that name, or None."""
        return self.roles.get(name)

    def role(self, name: str) -> Role:
        """The role of that name; ``InvalidInput`` naming it and the known roles."""
        found = self.roles.get(name)
        if found is None:
            raise InvalidInput(
                f"unknown role {name!r} (known roles: {', '.join(self.names)}; from "
                f"{_label(self.source)})",
                role=name,
            )
        return found

    def required_domain(self, kind: Literal["workflow", "topic"], name: str) -> str | None:
        """The authority domain a workflow (and so its runs) or a topic requires."""
        return self.requirements.get(f"{kind}s", {}).get(name)


def load_roles(path: str | None) -> RoleBook:
    """The roles of the YAML file at ``path``, or the built-in ones for None.

    ``ConfigError`` names the file and the problem: unreadable, YAML syntax (with its
    line), a bad shape, an unknown permission."""
    if path is None:
        text = resources.files(__package__ or "coord.security").joinpath(DEFAULT_FILE)
        return parse_roles(text.read_text("utf-8"), BUILT_IN)
    try:
        content = Path(path).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"COORD_RBAC_FILE: {unreadable(path, exc)}", file=path) from None
    return parse_roles(content, path)


def parse_roles(text: str, source: str) -> RoleBook:
    """Parse and check a role file's text; ``source`` names it in errors."""
    import yaml  # here: the services import this module for every command; few read roles

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise _bad(source, f"invalid YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        raise _bad(source, "expected a mapping with 'roles' (and optionally 'requirements')")
    unknown = set(data) - {"roles", "requirements"}
    if unknown:
        raise _bad(source, f"unknown top-level key(s) {', '.join(map(repr, sorted(unknown)))}")
    raw_roles = data.get("roles")
    if not isinstance(raw_roles, dict) or not raw_roles:
        raise _bad(source, "'roles' must be a non-empty mapping of role names")
    roles = {str(name): _role(source, name, spec) for name, spec in raw_roles.items()}
    requirements = _requirements(source, data.get("requirements"))
    return RoleBook(roles=roles, requirements=requirements, source=source)


def _role(source: str, name: Any, spec: Any) -> Role:
    if not isinstance(name, str) or not _NAME.match(name):
        raise _bad(source, f"role name {name!r}: use 1-64 letters, digits, '_', '.' or '-'")
    where = f"role {name!r}"
    if not isinstance(spec, dict):
        raise _bad(source, f"{where}: expected a mapping with 'permissions'")
    unknown = set(spec) - _ROLE_KEYS
    if unknown:
        raise _bad(source, f"{where}: unknown key(s) {', '.join(map(repr, sorted(unknown)))}")
    if "permissions" not in spec:
        raise _bad(source, f"{where}: 'permissions' is missing (a list, may be empty)")
    permissions = _strings(source, f"{where}: permissions", spec["permissions"])
    bad = sorted(set(permissions) - PERMISSIONS)
    if bad:
        raise _bad(
            source,
            f"{where}: unknown permission(s) {', '.join(map(repr, bad))} "
            f"(known: {', '.join(sorted(PERMISSIONS))})",
        )
    domains = _strings(source, f"{where}: authority_domains", spec.get("authority_domains", []))
    description = spec.get("description")
    if description is not None and not isinstance(description, str):
        raise _bad(source, f"{where}: description must be text")
    return Role(name, frozenset(permissions), frozenset(domains), description)


def _strings(source: str, where: str, value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _bad(source, f"{where} must be a list of names")
    return list(value)


def _requirements(source: str, value: Any) -> dict[str, dict[str, str]]:
    if value is None:
        return {}
    if not isinstance(value, dict) or set(value) - set(_KINDS):
        raise _bad(source, "'requirements' may only hold 'workflows' and 'topics' mappings")
    out: dict[str, dict[str, str]] = {}
    for kind in _KINDS:
        entries = value.get(kind) or {}
        if not isinstance(entries, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v for k, v in entries.items()
        ):
            raise _bad(source, f"requirements.{kind} must map names to a domain name")
        out[kind] = dict(entries)
    return out


def _bad(source: str, problem: str) -> ConfigError:
    return ConfigError(f"{_label(source)}: {problem}", file=source)


def _label(source: str) -> str:
    return source if source == BUILT_IN else f"COORD_RBAC_FILE {source}"
