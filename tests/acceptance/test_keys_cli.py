"""API keys and secrets from the command line, as a user drives them: real ``coord``
processes on SQLite and on PostgreSQL.

A key is printed once (its secret never again), listed and revoked; bad agents,
roles and durations fail naming the problem. A secret goes in through stdin, is
listed, rotated to a new key and deleted, and its value never shows in any output
or in the events table.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any

import psycopg
import pytest

from tests.acceptance.harness import Result, Workspace

VALUE = "tok-9f8e7d6c5b4a-hunter2"
KEY = re.compile(r"^coord_[a-z0-9]{12}_[A-Za-z0-9_-]{43}$")


@pytest.fixture
def team(workspace: Workspace) -> Workspace:
    workspace.ok("db", "upgrade")
    workspace.ok("agent", "add", "bot", "--domain", "python")
    workspace.ok("agent", "add", "coder", "--role", "code")
    return workspace


def events(ws: Workspace) -> list[tuple[Any, ...]]:
    sql = "SELECT topic, actor, data FROM coord_events ORDER BY id"
    if ws.database_url is None:
        with sqlite3.connect(ws.sqlite_file) as conn:
            return conn.execute(sql).fetchall()
    with psycopg.connect(ws.database_url) as conn:
        return conn.execute(sql).fetchall()


def test_keys_are_created_listed_and_revoked(team: Workspace) -> None:
    ws = team
    made = ws.ok("key", "create", "--agent", "bot", "-o", "json")
    data = made.json()
    assert KEY.match(data["key"]) and data["key"].startswith(f"coord_{data['id']}_")
    assert (data["agent"], data["role"], data["state"]) == ("bot", None, "active")
    assert data["expires_at"] is None and data["created_by"].startswith("cli")
    assert "will not be shown again" in made.stderr and data["key"] not in made.stderr

    text = ws.ok("key", "create", "--agent", "bot", "--role", "admin", "--expires", "30d")
    assert KEY.match(text.stdout.strip()) and text.stdout.count("\n") == 1
    assert "will not be shown again" in text.stderr
    secrets = [data["key"].split("_", 2)[2], text.stdout.strip().split("_", 2)[2]]

    listed = ws.data("key", "list")
    assert [(k["agent"], k["role"]) for k in listed] == [("bot", None), ("bot", "admin")]
    assert all("key" not in k and k["last_used_at"] is None for k in listed)
    assert listed[1]["expires_at"] is not None
    table = ws.ok("key", "list").stdout.splitlines()
    assert table[0].split()[:4] == ["id", "agent", "role", "state"] and len(table) == 3
    assert "(agent's)" in table[1] and "never" in table[1] and "admin" in table[2]
    assert ws.data("key", "list", "--agent", "coder") == []

    revoked = ws.ok("key", "revoke", data["id"])
    assert revoked.stdout.strip() == f"revoked API key {data['id']} of bot"
    again = ws.fails("key", "revoke", data["id"], "-o", "json")
    assert again.error_json()["code"] == "conflict" and "revoked already" in again.stderr
    assert "no API key" in ws.fails("key", "revoke", "zzzzzzzzzzzz").stderr
    assert [k["state"] for k in ws.data("key", "list")] == ["revoked", "active"]

    everything = [
        made,
        text,
        revoked,
        again,
        ws.ok("key", "list"),
        ws.ok("key", "list", "-o", "json"),
    ]
    listing = "".join(r.stdout + r.stderr for r in everything[2:])
    assert not any(s in listing for s in secrets)
    recorded = str(events(ws))
    assert "key.created" in recorded and "key.revoked" in recorded
    assert not any(s in recorded for s in secrets)


def test_bad_key_requests_name_the_problem(team: Workspace) -> None:
    ws = team
    assert "no agent 'ghost'" in ws.fails("key", "create", "--agent", "ghost").stderr
    boss = ws.fails("key", "create", "--agent", "bot", "--role", "boss", "-o", "json")
    assert boss.error_json()["code"] == "invalid_input" and "unknown role 'boss'" in boss.stderr
    code = ws.fails("key", "create", "--agent", "coder").stderr
    assert "'code'" in code and "not a known role" in code
    assert "longer than 0s" in ws.fails("key", "create", "--agent", "bot", "--expires", "0s").stderr
    soon = ws.fails("key", "create", "--agent", "bot", "--expires", "soon", code=2).stderr
    assert "--expires" in soon and "soon" in soon  # a bad option value is bad usage
    assert ws.fails("key", "create", code=2).stderr  # --agent is required
    assert ws.data("key", "list") == []


def test_a_role_file_is_used_and_checked(team: Workspace) -> None:
    ws = team
    (ws.cwd / "roles.yaml").write_text("roles:\n  code: {permissions: [read_tasks]}\n")
    env = {"COORD_RBAC_FILE": "roles.yaml"}
    assert ws.data("key", "create", "--agent", "coder", env=env)["role"] is None
    (ws.cwd / "bad.yaml").write_text("roles:\n  code: {permissions: [fly]}\n")
    bad = ws.fails("key", "create", "--agent", "coder", env={"COORD_RBAC_FILE": "bad.yaml"})
    assert "bad.yaml" in bad.stderr and "unknown permission(s) 'fly'" in bad.stderr


def test_secrets_are_set_listed_rotated_and_deleted(team: Workspace) -> None:
    ws = team
    outputs: list[Result] = []

    def keep(result: Result) -> Result:
        outputs.append(result)
        return result

    missing = keep(ws.fails("secret", "set", "api-token", stdin=VALUE))
    assert "COORD_SECRET_KEYS" in missing.stderr and "COORD_SECRET_KEYS_FILE" in missing.stderr
    old = keep(ws.ok("secret", "keygen")).stdout.strip()
    new = keep(ws.ok("secret", "keygen", "-o", "json")).json()["key"]
    assert old != new
    ws.env["COORD_SECRET_KEYS"] = old

    stored = keep(ws.ok("secret", "set", "api-token", stdin=VALUE + "\n"))
    assert stored.stdout.startswith("stored secret api-token (key ")
    info = keep(ws.ok("secret", "set", "db-password", "-o", "json", stdin=VALUE + "-db")).json()
    assert info["name"] == "db-password" and "value" not in info
    assert "cannot be empty" in keep(ws.fails("secret", "set", "empty", stdin="")).stderr
    assert "invalid secret name" in keep(ws.fails("secret", "set", "a b", stdin="x")).stderr
    listed = keep(ws.ok("secret", "list", "-o", "json")).json()
    assert [s["name"] for s in listed] == ["api-token", "db-password"]
    old_id = listed[0]["key_id"]
    assert keep(ws.ok("secret", "list")).stdout.splitlines()[0].split()[:2] == ["name", "key"]

    ws.env["COORD_SECRET_KEYS"] = f"{new},{old}"
    rotated = keep(ws.ok("secret", "rotate", "-o", "json")).json()
    assert rotated["reencrypted"] == 2 and rotated["key_id"] != old_id
    again = keep(ws.ok("secret", "rotate"))
    assert again.stdout.strip() == f"re-encrypted 0 secret(s) with key {rotated['key_id']}"
    ws.env["COORD_SECRET_KEYS"] = new  # the old key can go
    assert {s["key_id"] for s in keep(ws.ok("secret", "list", "-o", "json")).json()} == {
        rotated["key_id"]
    }
    ws.env["COORD_SECRET_KEYS"] = ws.ok("secret", "keygen").stdout.strip()  # a stranger
    stale = keep(ws.fails("secret", "rotate"))
    assert "cannot be decrypted" in stale.stderr
    ws.env["COORD_SECRET_KEYS"] = "not-a-key"
    assert "not a Fernet key" in keep(ws.fails("secret", "set", "x", stdin="y")).stderr
    ws.env["COORD_SECRET_KEYS"] = new

    deleted = keep(ws.ok("secret", "delete", "api-token", "-o", "json")).json()
    assert deleted == {"name": "api-token", "deleted": True}
    assert "no secret 'api-token'" in keep(ws.fails("secret", "delete", "api-token")).stderr
    assert [s["name"] for s in keep(ws.ok("secret", "list", "-o", "json")).json()] == [
        "db-password"
    ]

    for result in outputs:
        assert VALUE not in result.stdout + result.stderr, result.describe()
    recorded = events(ws)
    topics = [t for t, _, _ in recorded if t.startswith("secret.")]
    assert topics == [
        "secret.set",
        "secret.set",
        "secret.rotated",
        "secret.rotated",
        "secret.deleted",
    ]
    assert VALUE not in str(recorded)
