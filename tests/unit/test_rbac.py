"""Roles and permissions: the built-in role book, role files and their errors, the
checks of a principal, and the API key format."""

from __future__ import annotations

from pathlib import Path

import pytest

from coord.errors import ConfigError, Forbidden, InvalidInput
from coord.security import keys
from coord.security.rbac import PERMISSIONS, load_roles, parse_roles
from coord.services.access import Principal, require
from coord.services.auth import default_role


def principal(permissions: set[str], domains: frozenset[str] | set[str] = frozenset()) -> Principal:
    return Principal(
        key_id="k" * 12,
        agent="bot",
        role="custom",
        permissions=frozenset(permissions),
        domains=frozenset(domains),
        human=False,
    )


# -- the built-in roles -----------------------------------------------------------------
def test_the_built_in_roles() -> None:
    book = load_roles(None)
    assert book.names == ("admin", "agent", "auditor", "human", "operator", "viewer")
    admin, operator = book.role("admin"), book.role("operator")
    assert admin.permissions == {"admin"} and admin.authority_domains == {"*"}
    assert operator.permissions == PERMISSIONS - {"admin", "manage_keys", "manage_secrets"}
    assert operator.authority_domains == {"*"}
    assert book.role("agent").permissions == {
        "read_agents",
        "send_message",
        "read_own_inbox",
        "subscribe",
        "enqueue_task",
        "read_tasks",
        "start_run",
        "read_runs",
        "read_events",
    }
    human = book.role("human").permissions
    assert "approve_gate" in human and "enqueue_task" not in human
    assert book.role("viewer").permissions == {
        "read_agents",
        "read_tasks",
        "read_runs",
        "read_events",
    }
    assert book.role("auditor").permissions == {
        "read_audit",
        "read_events",
        "read_runs",
        "read_tasks",
    }
    assert not any("read_all_inboxes" in book.role(r).permissions for r in ("agent", "human"))
    assert book.required_domain("workflow", "release") is None


def test_an_unknown_role_is_named_with_the_known_ones() -> None:
    with pytest.raises(InvalidInput, match=r"unknown role 'boss'.*admin, agent"):
        load_roles(None).role("boss")


def test_default_role_of_a_key_without_one() -> None:
    assert default_role("operator", human=False) == "operator"
    assert default_role(None, human=True) == "human"
    assert default_role(None, human=False) == "agent"


# -- role files ---------------------------------------------------------------------------
GOOD = """\
roles:
  release-manager:
    description: ships releases
    permissions: [start_run, approve_gate, read_runs]
    authority_domains: [production]
  bot:
    permissions: []
requirements:
  workflows: {release: production}
  topics: {payments: finance}
"""


def test_a_role_file_is_loaded(tmp_path: Path) -> None:
    path = tmp_path / "roles.yaml"
    path.write_text(GOOD)
    book = load_roles(str(path))
    assert book.names == ("bot", "release-manager")
    manager = book.role("release-manager")
    assert manager.permissions == {"start_run", "approve_gate", "read_runs"}
    assert manager.authority_domains == {"production"}
    assert manager.description == "ships releases"
    assert book.role("bot").permissions == frozenset()
    assert book.required_domain("workflow", "release") == "production"
    assert book.required_domain("topic", "payments") == "finance"
    assert book.required_domain("topic", "other") is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("roles: [admin", r"invalid YAML at line 1, column 14: expected ',' or ']'"),
        ("roles:\n  a:\n    permissions: [x]\n   bad: indent\n", r"invalid YAML at line 4"),
        ("- a\n- b\n", r"expected a mapping with 'roles'"),
        ("roles: {}\n", r"'roles' must be a non-empty mapping"),
        ("rules: {}\nroles: {a: {permissions: []}}\n", r"unknown top-level key\(s\) 'rules'"),
        ("roles:\n  a: [send_message]\n", r"role 'a': expected a mapping"),
        ("roles:\n  a: {authority_domains: []}\n", r"role 'a': 'permissions' is missing"),
        ("roles:\n  a: {permissions: send_message}\n", r"role 'a': permissions must be a list"),
        (
            "roles:\n  a: {permissions: [send_message, fly]}\n",
            r"role 'a': unknown permission\(s\) 'fly' \(known: admin,",
        ),
        ("roles:\n  a: {permissions: [], power: 9}\n", r"role 'a': unknown key\(s\) 'power'"),
        ("roles:\n  'bad name': {permissions: []}\n", r"role name 'bad name'"),
        (
            "roles:\n  a: {permissions: [], authority_domains: [1]}\n",
            r"role 'a': authority_domains must be a list of names",
        ),
        (
            "roles: {a: {permissions: []}}\nrequirements: {runs: {}}\n",
            r"'requirements' may only hold 'workflows' and 'topics'",
        ),
        (
            "roles: {a: {permissions: []}}\nrequirements: {workflows: {release: [x]}}\n",
            r"requirements.workflows must map names to a domain name",
        ),
    ],
)
def test_a_bad_role_file_names_the_file_and_the_problem(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "roles.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=problem) as caught:
        load_roles(str(path))
    assert f"COORD_RBAC_FILE {path}" in caught.value.message


def test_a_missing_role_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"COORD_RBAC_FILE: cannot read .*nope.yaml"):
        load_roles(str(tmp_path / "nope.yaml"))


def test_parse_roles_without_a_file() -> None:
    assert parse_roles(GOOD, "inline").role("bot").name == "bot"


# -- principals ---------------------------------------------------------------------------
def test_admin_implies_every_permission() -> None:
    boss = principal({"admin"})
    assert all(boss.can(p) for p in PERMISSIONS)
    require(boss, "manage_keys")


def test_permissions_and_domains_are_checked() -> None:
    bot = principal({"send_message", "start_run"}, {"python"})
    assert bot.can("send_message") and not bot.can("read_all_inboxes")
    assert bot.in_domain(None) and bot.in_domain("python") and not bot.in_domain("production")
    assert principal(set(), {"*"}).in_domain("production")
    require(bot, "start_run", domain="python")
    with pytest.raises(Forbidden, match="lacks the permission 'read_all_inboxes'") as caught:
        require(bot, "read_all_inboxes")
    assert caught.value.data["permission"] == "read_all_inboxes"
    with pytest.raises(Forbidden, match="authority domain 'production'") as caught:
        require(bot, "start_run", domain="production")
    assert caught.value.data["domain"] == "production"
    with pytest.raises(ValueError, match="unknown permission 'fly'"):
        require(bot, "fly")


# -- the key format -----------------------------------------------------------------------
def test_a_key_is_a_prefix_an_id_and_a_secret() -> None:
    made = keys.generate_key()
    assert made.text.startswith("coord_") and len(made.text) == keys.KEY_LENGTH == 62
    assert keys.parse_key(made.text) == (made.id, made.secret)
    assert keys.secret_matches(made.secret, made.secret_hash)
    other = "B" if made.secret.endswith("A") else "A"  # a secret one character off
    assert not keys.secret_matches(made.secret[:-1] + other, made.secret_hash)
    assert made.secret not in repr(made) and len(made.secret_hash) == 64
    assert len({keys.generate_key().text for _ in range(100)}) == 100


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("token", "starts with 'coord_'"),
        ("coord_short", "has 62 characters"),
        ("coord_" + "A" * 12 + "_" + "a" * 43, "12-character id"),
        ("coord_" + "a" * 12 + "-" + "a" * 43, "12-character id"),
        ("coord_" + "a" * 12 + "_" + "a" * 42 + "=", "URL-safe base64"),
    ],
)
def test_a_malformed_key_is_refused_without_echoing_it(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem) as caught:
        keys.parse_key(text)
    assert text not in str(caught.value)
