"""Shared fixtures: a real PostgreSQL database per test session, SQLite files per test.

PostgreSQL comes from ``COORD_TEST_POSTGRES_URL`` (default: the local server). The
session creates its own database and drops it at the end. When the server cannot be
reached the PostgreSQL tests are skipped loudly, unless ``COORD_REQUIRE_POSTGRES=1``
(CI sets it), in which case they fail.

The suite runs in parallel (pytest-xdist): every xdist worker is a session of its own,
so it has its own session database (named after the worker, ``coord_test_gw0_...``),
and every database a test makes has a unique name; SQLite files live in ``tmp_path``,
which xdist keeps apart per worker.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

import coord
from coord.settings import load_settings

ADMIN_URL = os.environ.get(
    "COORD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_POSTGRES = os.environ.get("COORD_REQUIRE_POSTGRES") == "1"
# Every table of coord's schema is emptied between tests, found in the catalog (a hand-kept
# list would miss the next table, and its rows would leak into later tests), except the
# ledger's head (reset below) and the applied migrations.
KEPT_TABLES = ("coord_ledger_head", "coord_migrations")
COORD_TABLES_SQL = (
    "SELECT string_agg(quote_ident(tablename), ', ' ORDER BY tablename) FROM pg_tables "
    "WHERE schemaname = current_schema() AND tablename LIKE 'coord\\_%%' "
    "AND tablename <> ALL(%s)"
)
# The ledger's head is one row that must exist: reset, not truncated.
RESET_LEDGER_HEAD = (
    "UPDATE coord_ledger_head SET seq = 0, hash = repeat('0', 64), event_xid = '0', "
    "event_id = 0, sealed_at = NULL"
)


def _database_url(admin_url: str, name: str) -> str:
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The admin URL of a reachable PostgreSQL server (or skip / fail)."""
    try:
        with psycopg.connect(ADMIN_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        message = f"PostgreSQL at {ADMIN_URL} is unreachable ({exc}); PostgreSQL tests skipped"
        if REQUIRE_POSTGRES:
            pytest.fail(f"COORD_REQUIRE_POSTGRES=1 but {message}")
        pytest.skip(message)
    return ADMIN_URL


def _worker() -> str:
    """The xdist worker running this process (``gw0``, ``gw1``...; ``main`` when serial)."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def create_database(admin_url: str, *, template: str | None = None) -> str:
    """Create a database with a unique name, empty or a copy of the database at the URL
    ``template`` (which nobody may be connected to); return its URL."""
    name = f"coord_test_{_worker()}_{uuid.uuid4().hex[:12]}"
    copy = "" if template is None else f' TEMPLATE "{template.rpartition("/")[2]}"'
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{copy}')
    return _database_url(admin_url, name)


def drop_database(admin_url: str, url: str) -> None:
    """Drop a database made by :func:`create_database` (closing leftover sessions)."""
    name = url.rpartition("/")[2]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_url(postgres_server: str) -> Iterator[str]:
    """One migrated database for the whole session; tests empty it before use."""
    url = create_database(postgres_server)
    app = coord.App(url)
    try:
        from coord.app import connect

        store = connect(app.settings, check_schema=False)
        store.upgrade()
        store.close()
        yield url
    finally:
        drop_database(postgres_server, url)


@pytest.fixture
def empty_postgres_url(postgres_server: str) -> Iterator[str]:
    """A brand-new empty database for this test only."""
    url = create_database(postgres_server)
    try:
        yield url
    finally:
        drop_database(postgres_server, url)


def _truncate(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(COORD_TABLES_SQL, (list(KEPT_TABLES),)).fetchone()
        assert row is not None and row[0], "no coord tables to empty"
        conn.execute(f"TRUNCATE {row[0]} RESTART IDENTITY CASCADE")
        conn.execute(RESET_LEDGER_HEAD)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'coord.db'}"
    url: str = request.getfixturevalue("postgres_url")
    _truncate(url)
    return url


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fast timings for tests (short leases, quick polls)."""
    monkeypatch.setenv("COORD_LEASE_DURATION", "2s")
    monkeypatch.setenv("COORD_POLL_INTERVAL", "0.2s")
    monkeypatch.setenv("COORD_SHUTDOWN_GRACE", "5s")


@pytest.fixture
def app(database_url: str, settings_env: None) -> Iterator[coord.App]:
    """An App on a fresh database of each backend."""
    instance = coord.App(database_url, settings=load_settings())
    try:
        yield instance
    finally:
        instance.close()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Keep the tests that share a module-scoped fixture on one xdist worker.

    Under ``--dist loadgroup`` every other test is scheduled on its own, so the tests of
    a module fixture (a history built once, a batch of tasks run once...) would spread
    over the workers, each building it again. They are put in one ``xdist_group`` per
    fixture and parameter (``ledger=sqlite``, ``ledger=postgres``: two groups), which
    builds it once. (tryfirst: before xdist turns the groups into scheduling units; a
    group name holds no ``]`` or ``@``, which xdist would misread.)"""
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        params = getattr(getattr(item, "callspec", None), "params", {})
        if info is None:
            continue
        shared = sorted(
            f"{name}={params[name]}" if name in params else name
            for name, defs in info.name2fixturedefs.items()
            if defs and defs[-1].scope in ("module", "class", "package")
        )
        if shared:
            group = f"{item.nodeid.partition('::')[0]}::{'+'.join(shared)}"
            group = group.replace("]", ")").replace("[", "(").replace("@", "_")
            item.add_marker(pytest.mark.xdist_group(group))
