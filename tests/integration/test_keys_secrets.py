"""API keys, secrets and idempotency records on both backends: authentication and its
refusals (revocation is effective at once), role resolution, encrypted secrets and
key rotation, ``ctx.secret`` in real worker-run tasks, and first-write-wins records.
Secret values and key secrets must never reach the events table."""

from __future__ import annotations

import logging
import sqlite3
import time
from typing import Any

import psycopg
import pytest

import coord
from coord.domain.security import KeyState
from coord.errors import (
    ConfigError,
    Conflict,
    IdempotencyConflict,
    InvalidInput,
    NotFound,
    SecretUnavailable,
    Unauthenticated,
)
from coord.ports.store import Store
from coord.security.keys import generate_key
from coord.security.rbac import load_roles, parse_roles
from coord.services import idempotency, keys, messages, secrets
from coord.services.auth import authenticate
from coord.settings import load_settings
from tests.helpers import all_final, work_until

ROLES = load_roles(None)
VALUE = "hunter2-s3cr3t-value"


def query(database_url: str, sql: str) -> list[tuple[Any, ...]]:
    """Rows straight from the database (not through the store under test)."""
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as conn:
            return conn.execute(sql).fetchall()
    with psycopg.connect(database_url) as conn:
        return conn.execute(sql).fetchall()


def event_rows(database_url: str) -> list[tuple[Any, ...]]:
    return query(database_url, "SELECT topic, actor, data, task_id FROM coord_events ORDER BY id")


@pytest.fixture
def store(app: coord.App) -> Store:
    s = app.store
    messages.add_agent(s, "bot", domains=["python"])
    messages.add_agent(s, "lead", human=True)
    messages.add_agent(s, "ops", role="operator")
    return s


def bearer(key: str) -> str:
    return f"Bearer {key}"


def refused(store: Store, header: str | None, reason: str) -> Unauthenticated:
    with pytest.raises(Unauthenticated) as caught:
        authenticate(store, header, ROLES)
    assert caught.value.data["reason"] == reason, caught.value.message
    return caught.value


# -- API keys -------------------------------------------------------------------------------
def test_a_key_authenticates_until_it_is_revoked(store: Store, database_url: str) -> None:
    assert not keys.any_usable_key(store)
    created = keys.create_key(store, agent="bot", role=None, expires=None, roles=ROLES, actor="t")
    assert created.key.startswith(f"coord_{created.info.id}_")
    assert created.info.state is KeyState.ACTIVE and created.info.role is None
    assert created.info.expires_at is None and created.info.created_by == "t"
    assert keys.any_usable_key(store)

    who = authenticate(store, bearer(created.key), ROLES)
    assert (who.key_id, who.agent, who.role, who.human) == (created.info.id, "bot", "agent", False)
    assert who.can("enqueue_task") and not who.can("read_all_inboxes")
    assert who.domains == {"python"}  # the role's (none) and the agent's own
    assert keys.get_key(store, created.info.id).last_used_at is not None
    assert authenticate(store, "bearer  " + created.key, ROLES).agent == "bot"

    revoked = keys.revoke_key(store, created.info.id, actor="t")
    assert revoked.state is KeyState.REVOKED and revoked.revoked_at is not None
    refused(store, bearer(created.key), "revoked")  # at once: nothing is cached
    assert not keys.any_usable_key(store)
    with pytest.raises(Conflict, match="revoked already"):
        keys.revoke_key(store, created.info.id, actor="t")
    with pytest.raises(NotFound):
        keys.revoke_key(store, "a" * 12, actor="t")

    events = [(topic, data) for topic, _, data, _ in event_rows(database_url)]
    key_events = [e for e in events if e[0].startswith("key.")]
    assert [t for t, _ in key_events] == ["key.created", "key.revoked"]
    secret = created.key.split("_", 2)[2]  # the secret may hold "_" itself
    stored_hash = query(database_url, "SELECT secret_hash FROM coord_api_keys")[0][0]
    assert secret not in str(events) and stored_hash not in str(events)
    assert secret not in stored_hash


def test_bad_credentials_are_refused_with_a_reason(store: Store) -> None:
    created = keys.create_key(store, agent="bot", role=None, expires=None, roles=ROLES, actor="t")
    refused(store, None, "missing")
    refused(store, "  ", "missing")
    refused(store, "Basic Ym90OnB3", "not_bearer")
    refused(store, "Bearer nonsense", "malformed")
    refused(store, bearer(generate_key().text), "unknown")
    wrong = created.key[:-2] + ("AA" if not created.key.endswith("AA") else "BB")
    error = refused(store, bearer(wrong), "wrong_secret")
    assert wrong[-43:] not in str(error.to_dict()) and created.key[-43:] not in error.message


def test_expired_keys_and_removed_agents_are_refused(store: Store) -> None:
    short = keys.create_key(store, agent="bot", role=None, expires=0.3, roles=ROLES, actor="t")
    assert short.info.expires_at is not None
    assert authenticate(store, bearer(short.key), ROLES).agent == "bot"
    time.sleep(0.4)
    refused(store, bearer(short.key), "expired")
    assert keys.get_key(store, short.info.id).state is KeyState.EXPIRED
    assert not keys.any_usable_key(store)

    ops = keys.create_key(store, agent="ops", role=None, expires="1h", roles=ROLES, actor="t")
    assert keys.any_usable_key(store)
    messages.remove_agent(store, "ops")
    refused(store, bearer(ops.key), "agent_removed")
    assert not keys.any_usable_key(store)
    assert [k.agent for k in keys.list_keys(store)] == ["bot", "ops"]
    assert [k.id for k in keys.list_keys(store, "ops")] == [ops.info.id]


def test_roles_come_from_the_key_then_the_agent(store: Store) -> None:
    def role_of(agent: str, role: str | None, roles: Any = ROLES) -> Any:
        made = keys.create_key(store, agent=agent, role=role, expires=None, roles=roles, actor="t")
        return authenticate(store, bearer(made.key), ROLES)

    assert role_of("ops", None).role == "operator"
    assert role_of("lead", None).role == "human" and role_of("lead", None).human
    assert role_of("lead", None).can("approve_gate")
    boss = role_of("bot", "admin")
    assert boss.role == "admin" and boss.can("manage_keys") and boss.in_domain("anything")

    # A role the key was made with and the server's role file no longer has.
    custom = parse_roles("roles: {intern: {permissions: [read_tasks]}}", "old.yaml")
    made = keys.create_key(store, agent="bot", role="intern", expires=None, roles=custom, actor="t")
    error = refused(store, bearer(made.key), "unknown_role")
    assert "unknown role 'intern'" in error.message


def test_creating_a_key_checks_agent_role_and_duration(store: Store) -> None:
    messages.add_agent(store, "coder", role="code")

    def create(agent: str, role: str | None = None, expires: Any = None) -> Any:
        return keys.create_key(
            store, agent=agent, role=role, expires=expires, roles=ROLES, actor="t"
        )

    with pytest.raises(NotFound, match="ghost"):
        create("ghost")
    with pytest.raises(InvalidInput, match="unknown role 'boss'"):
        create("bot", "boss")
    with pytest.raises(InvalidInput, match="expires: invalid duration 'soon'"):
        create("bot", expires="soon")
    with pytest.raises(InvalidInput, match="longer than 0s"):
        create("bot", expires=0)
    with pytest.raises(InvalidInput, match="its role 'code', which is not a known role"):
        create("coder")
    assert create("coder", "agent").info.role == "agent"
    assert [k.agent for k in keys.list_keys(store)] == ["coder"]


# -- secrets --------------------------------------------------------------------------------
def test_secrets_are_encrypted_at_rest(store: Store, database_url: str) -> None:
    box = secrets.open_box(secrets.generate_fernet_key(), None)
    info = secrets.set_secret(store, "api-token", VALUE, box, actor="t")
    assert (info.name, info.key_id) == ("api-token", box.key_id)
    [(ciphertext,)] = query(database_url, "SELECT ciphertext FROM coord_secrets")
    assert VALUE not in ciphertext
    assert secrets.read_secret(store, "api-token", box, actor="reader", task_id=None) == VALUE
    secrets.set_secret(store, "api-token", VALUE + "2", box, actor="t")  # replaced
    assert secrets.read_secret(store, "api-token", box, actor="reader") == VALUE + "2"
    assert [s.name for s in secrets.list_secrets(store)] == ["api-token"]

    with pytest.raises(SecretUnavailable, match="no secret 'nope'"):
        secrets.read_secret(store, "nope", box, actor="reader")
    with pytest.raises(InvalidInput, match="cannot be empty"):
        secrets.set_secret(store, "empty", "", box, actor="t")
    with pytest.raises(InvalidInput, match="invalid secret name"):
        secrets.set_secret(store, "no spaces", "x", box, actor="t")
    other = secrets.open_box(secrets.generate_fernet_key(), None)
    with pytest.raises(SecretUnavailable, match="cannot be decrypted") as caught:
        secrets.read_secret(store, "api-token", other, actor="reader")
    assert VALUE not in str(caught.value.to_dict()) and ciphertext not in caught.value.message

    secrets.delete_secret(store, "api-token", actor="t")
    assert secrets.list_secrets(store) == []
    with pytest.raises(NotFound):
        secrets.delete_secret(store, "api-token", actor="t")

    rows = event_rows(database_url)
    topics = [r[0] for r in rows if r[0].startswith("secret.")]
    assert topics == [
        "secret.set", "secret.read", "secret.set", "secret.read", "secret.read", "secret.deleted"
    ]  # fmt: skip
    read = next(r for r in rows if r[0] == "secret.read")
    assert read[1] == "reader"
    assert VALUE not in str(rows) and ciphertext not in str(rows)


def test_rotation_reencrypts_with_the_first_key(store: Store, database_url: str) -> None:
    old, new = secrets.generate_fernet_key(), secrets.generate_fernet_key()
    old_box = secrets.open_box(old, None)
    for name in ("a", "b"):
        secrets.set_secret(store, name, f"{VALUE}-{name}", old_box, actor="t")
    before = dict(query(database_url, "SELECT name, ciphertext FROM coord_secrets"))

    both = secrets.open_box(f"{new}, {old}", None)  # the new key first, the old still decrypts
    assert both.key_ids == (secrets.SecretBox([new]).key_id, old_box.key_id)
    assert secrets.read_secret(store, "a", both, actor="t") == f"{VALUE}-a"
    assert secrets.rotate(store, both, actor="t") == 2
    after = dict(query(database_url, "SELECT name, ciphertext FROM coord_secrets"))
    assert all(after[n] != before[n] for n in before)
    assert {s.key_id for s in secrets.list_secrets(store)} == {both.key_id}
    assert secrets.rotate(store, both, actor="t") == 0  # nothing left to do

    new_only = secrets.open_box(new, None)  # the old key can go now
    assert secrets.read_secret(store, "b", new_only, actor="t") == f"{VALUE}-b"
    with pytest.raises(SecretUnavailable):
        secrets.read_secret(store, "b", old_box, actor="t")
    # A rotation that cannot decrypt a secret changes nothing.
    third = secrets.open_box(secrets.generate_fernet_key(), None)
    with pytest.raises(SecretUnavailable, match="'a'"):
        secrets.rotate(store, third, actor="t")
    assert dict(query(database_url, "SELECT name, ciphertext FROM coord_secrets")) == after
    rotated = [r for r in event_rows(database_url) if r[0] == "secret.rotated"]
    assert len(rotated) == 2 and VALUE not in str(rotated)


def test_the_box_needs_a_configured_key(tmp_path: Any) -> None:
    with pytest.raises(ConfigError, match="COORD_SECRET_KEYS or COORD_SECRET_KEYS_FILE"):
        secrets.open_box(None, None)
    with pytest.raises(ConfigError, match="not a Fernet key") as caught:
        secrets.open_box("not-a-key", None)
    assert "not-a-key" not in caught.value.message
    keyfile = tmp_path / "keys"
    first, second = secrets.generate_fernet_key(), secrets.generate_fernet_key()
    keyfile.write_text(f"# newest first\n{first}\n\n{second}\n")
    assert (
        secrets.open_box(None, str(keyfile)).key_ids == secrets.SecretBox([first, second]).key_ids
    )
    with pytest.raises(ConfigError, match="COORD_SECRET_KEYS_FILE: cannot read"):
        secrets.open_box(None, str(tmp_path / "missing"))


def test_handlers_read_secrets_through_ctx(
    database_url: str, settings_env: None, caplog: pytest.LogCaptureFixture
) -> None:
    key = secrets.generate_fernet_key()
    app = coord.App(database_url, settings=load_settings(secret_keys=key))

    @app.task(retries=0)
    async def uses_async(ctx: coord.Context) -> bool:
        return await ctx.secret("api-token") == VALUE

    @app.task(retries=0)
    def uses_sync(ctx: coord.SyncContext) -> bool:
        return ctx.secret("api-token") == VALUE

    @app.task(retries=0)
    async def uses_missing(ctx: coord.Context) -> str:
        return await ctx.secret("missing")

    try:
        secrets.set_secret(app.store, "api-token", VALUE, secrets.open_box(key, None), actor="t")
        handles = [app.enqueue(uses_async), app.enqueue(uses_sync), app.enqueue(uses_missing)]
        with caplog.at_level(logging.DEBUG):
            work_until(app, all_final(app, [h.id for h in handles]))
        assert [h.result(timeout=1) for h in handles[:2]] == [True, True]
        dead = handles[2].info()
        assert dead.error is not None and "no secret 'missing'" in dead.error["message"]
        for handle in handles[:2]:
            [read] = [e for e in app.store.task_events(handle.id) if e.topic == "secret.read"]
            assert read.data == {"name": "api-token", "key_id": secrets.SecretBox([key]).key_id}
            assert read.actor is not None and read.actor.count(":") == 2  # the worker id
        assert VALUE not in caplog.text
        assert VALUE not in str(event_rows(database_url))
    finally:
        app.close()


def test_a_handler_without_configured_keys_fails_naming_the_setting(app: coord.App) -> None:
    @app.task(retries=0)
    async def needs_key(ctx: coord.Context) -> str:
        return await ctx.secret("api-token")

    handle = app.enqueue(needs_key)
    work_until(app, all_final(app, [handle.id]))
    error = handle.info().error
    assert error is not None and "COORD_SECRET_KEYS" in error["message"]


# -- idempotency records --------------------------------------------------------------------
def test_the_first_response_wins(store: Store) -> None:
    body = {"id": "t1", "nested": [1, {"x": None}]}
    digest = idempotency.request_hash("POST", "/tasks", b'{"n": 1}')
    assert idempotency.recall(store, "bot:enqueue", "k1", digest) is None
    first = idempotency.remember(store, "bot:enqueue", "k1", digest, 201, body)
    assert (first.status, first.body) == (201, body)
    again = idempotency.remember(store, "bot:enqueue", "k1", digest, 500, {"other": True})
    assert (again.status, again.body) == (201, body)
    recalled = idempotency.recall(store, "bot:enqueue", "k1", digest)
    assert recalled is not None and (recalled.status, recalled.body) == (201, body)

    other = idempotency.request_hash("POST", "/tasks", b'{"n": 2}')
    with pytest.raises(IdempotencyConflict, match="'k1' was used with another request"):
        idempotency.recall(store, "bot:enqueue", "k1", other)
    with pytest.raises(IdempotencyConflict):
        idempotency.remember(store, "bot:enqueue", "k1", other, 201, {})
    assert idempotency.recall(store, "ops:enqueue", "k1", other) is None  # scopes apart
    with pytest.raises(InvalidInput):
        idempotency.remember(store, "bot:enqueue", "k2", digest, 42, {})
    with pytest.raises(InvalidInput):
        idempotency.recall(store, "bot:enqueue", "", digest)
    assert idempotency.request_hash("ab", "c") != idempotency.request_hash("a", "bc")
