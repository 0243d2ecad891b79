"""Schema: created and upgraded by migrations; a fresh schema equals a migrated one;
an unmigrated or newer database is refused with a message naming the fix."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

import coord
from coord.app import connect
from coord.errors import ConfigError, SchemaOutdated, SchemaTooNew
from coord.settings import load_settings
from coord.storage.migrations import migrations_of
from coord.storage.sqlite.store import SqliteStore

PG_SCHEMA_QUERY = """
SELECT 'column' AS kind, table_name || '.' || column_name AS name,
       concat_ws(' ', data_type, is_nullable, column_default) AS definition
FROM information_schema.columns WHERE table_schema = 'public' AND table_name LIKE 'coord\\_%%'
UNION ALL
SELECT 'index', indexname, indexdef FROM pg_indexes
WHERE schemaname = 'public' AND tablename LIKE 'coord\\_%%'
UNION ALL
SELECT 'constraint', conrelid::regclass || '.' || conname, pg_get_constraintdef(oid)
FROM pg_constraint WHERE connamespace = 'public'::regnamespace
  AND conrelid::regclass::text LIKE 'coord\\_%%'
UNION ALL
SELECT 'function', proname, pg_get_functiondef(oid) FROM pg_proc
WHERE pronamespace = 'public'::regnamespace AND proname LIKE 'coord\\_%%'
ORDER BY 1, 2
"""


def pg_schema(url: str) -> list[tuple[str, str, str]]:
    with psycopg.connect(url) as conn:
        return [tuple(r) for r in conn.execute(PG_SCHEMA_QUERY).fetchall()]


def sqlite_schema(path: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE name LIKE 'coord_%' ORDER BY 1, 2"
        ).fetchall()
    return [(t, n, " ".join((s or "").split())) for t, n, s in rows]


def test_postgres_fresh_schema_equals_migrated(postgres_server: str) -> None:
    from tests.conftest import create_database, drop_database

    fresh, migrated = create_database(postgres_server), create_database(postgres_server)
    try:
        store = connect(load_settings(database_url=fresh), check_schema=False)
        assert store.upgrade() == [m.version for m in migrations_of("coord.storage.postgres")]
        store.close()
        store = connect(load_settings(database_url=migrated), check_schema=False)
        store.upgrade(via_migrations=True)
        store.close()
        assert pg_schema(fresh) == pg_schema(migrated)
        assert len(pg_schema(fresh)) > 40  # the comparison saw the real schema
    finally:
        drop_database(postgres_server, fresh)
        drop_database(postgres_server, migrated)


def test_sqlite_fresh_schema_equals_migrated(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.db"
    connect(load_settings(database_url=f"sqlite:///{fresh}")).close()
    store = SqliteStore(tmp_path / "migrated.db")
    store.upgrade(via_migrations=True)
    store.close()
    migrated = tmp_path / "migrated.db"
    assert sqlite_schema(fresh) == sqlite_schema(migrated)
    assert len(sqlite_schema(fresh)) > 8


def test_upgrade_is_idempotent(database_url: str) -> None:
    store = connect(load_settings(database_url=database_url), check_schema=False)
    try:
        assert store.upgrade() == []
        status = store.schema_status()
        assert status.up_to_date
        assert status.current == len(migrations_of(f"coord.storage.{store.dialect}"))
    finally:
        store.close()


def test_unmigrated_postgres_is_refused_naming_the_fix(empty_postgres_url: str) -> None:
    app = coord.App(empty_postgres_url)

    @app.task
    async def noop(ctx: coord.Context) -> None: ...

    with pytest.raises(SchemaOutdated, match="coord db upgrade"):
        app.enqueue(noop)
    with pytest.raises(SchemaOutdated, match="coord db upgrade"):
        app.worker()


def test_older_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:  # a database from before coord's first release
        conn.execute("CREATE TABLE coord_migrations (version INTEGER, name TEXT, applied_at REAL)")
    with pytest.raises(SchemaOutdated, match=r"has no coord schema.*coord db upgrade"):
        connect(load_settings(database_url=f"sqlite:///{path}"))


def test_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    connect(load_settings(database_url=f"sqlite:///{path}")).close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO coord_migrations VALUES (999, 'future', 0)")
    with pytest.raises(SchemaTooNew, match="upgrade coord"):
        connect(load_settings(database_url=f"sqlite:///{path}"))


def test_missing_sqlite_file_is_not_created_when_not_asked(tmp_path: Path) -> None:
    path = tmp_path / "typo" / "coord.db"
    with pytest.raises(ConfigError, match="no coord database"):
        connect(load_settings(database_url=f"sqlite:///{path}"), create=False)
    assert not path.exists()


def test_sqlite_default_database_is_created_on_first_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COORD_DATABASE_URL", raising=False)
    app = coord.App()

    @app.task
    async def noop(ctx: coord.Context) -> None: ...

    app.enqueue(noop)
    app.close()
    assert (tmp_path / ".coord" / "coord.db").exists()
    with sqlite3.connect(tmp_path / ".coord" / "coord.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def _install_version_1(database_url: str) -> None:
    """A database as coord 0.1 left it: migration 0001 only, with an event in it."""
    from coord.storage.migrations import split_statements

    dialect = "postgres" if database_url.startswith("postgresql") else "sqlite"
    first = migrations_of(f"coord.storage.{dialect}")[0]
    if dialect == "sqlite":
        path = database_url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as conn:
            for statement in split_statements(first.sql):
                conn.execute(statement)
            conn.execute(
                "CREATE TABLE coord_migrations (version INTEGER PRIMARY KEY, "
                "name TEXT NOT NULL, applied_at REAL NOT NULL)"
            )
            conn.execute("INSERT INTO coord_migrations VALUES (1, 'initial', 0)")
            conn.execute("INSERT INTO coord_events (topic, created_at) VALUES ('old', 0)")
        return
    with psycopg.connect(database_url, autocommit=True) as pg:
        for statement in split_statements(first.sql):
            pg.execute(statement.encode())
        pg.execute(
            "CREATE TABLE coord_migrations (version integer PRIMARY KEY, "
            "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        pg.execute("INSERT INTO coord_migrations (version, name) VALUES (1, 'initial')")
        pg.execute("INSERT INTO coord_events (topic) VALUES ('old')")


@pytest.mark.parametrize("dialect", ["sqlite", "postgres"])
def test_a_version_1_database_upgrades_to_the_current_schema_keeping_its_data(
    dialect: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'old.db'}"
        if dialect == "sqlite"
        else request.getfixturevalue("empty_postgres_url")
    )
    _install_version_1(url)
    old = coord.App(url)

    @old.task
    async def noop(ctx: coord.Context) -> None: ...

    with pytest.raises(SchemaOutdated, match="coord db upgrade"):
        old.enqueue(noop)
    old.close()
    store = connect(load_settings(database_url=url), check_schema=False)
    package = f"coord.storage.{dialect}"
    assert store.upgrade() == [m.version for m in migrations_of(package)][1:]
    store.close()

    app = coord.App(url)
    app.add_agent("a")
    app.add_agent("b")
    sent = app.send("a", "b", "hello after upgrade")
    assert [m.id for m in app.inbox("b")] == [sent.id]
    assert [e.topic for e in app.message_events(sent.id)] == [
        "message.sent",
        "message.delivered",
    ]
    app.close()
    count = "SELECT count(*) FROM coord_events WHERE topic = 'old'"
    if dialect == "sqlite":
        with sqlite3.connect(tmp_path / "old.db") as conn:
            assert conn.execute(count).fetchone() == (1,)
    else:
        with psycopg.connect(url) as pg:
            assert pg.execute(count).fetchone() == (1,)
