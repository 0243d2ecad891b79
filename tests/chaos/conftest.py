"""Fixtures of the chaos tests: a brand-new database per test, on each backend."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chaos.harness import ChaosDB, prepare_database
from tests.conftest import create_database, drop_database


def _postgres_db(request: pytest.FixtureRequest) -> Iterator[ChaosDB]:
    admin_url: str = request.getfixturevalue("postgres_server")
    url = create_database(admin_url)
    try:
        prepare_database(url)
        yield ChaosDB(url, "postgres")
    finally:
        if os.environ.get("COORD_CHAOS_KEEP_DB") == "1":
            print(f"\nkept database {url}")
        else:
            drop_database(admin_url, url)


@pytest.fixture(params=["sqlite", "postgres"])
def chaos_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ChaosDB]:
    """An empty, migrated database of each backend, for this test only."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'coord.db'}"
        prepare_database(url)
        yield ChaosDB(url, "sqlite")
    else:
        yield from _postgres_db(request)


@pytest.fixture
def chaos_pg_db(request: pytest.FixtureRequest) -> Iterator[ChaosDB]:
    """An empty, migrated PostgreSQL database for this test only."""
    yield from _postgres_db(request)
