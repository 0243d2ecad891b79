"""Workspaces for the CLI acceptance tests: a temporary working directory with the
embedded default database (SQLite under ``.coord/``), or with a brand-new PostgreSQL
database passed as ``COORD_DATABASE_URL``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.acceptance.harness import Workspace, open_workspace


@pytest.fixture(params=["sqlite", "postgres"])
def workspace(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Workspace]:
    """An empty working directory on each backend (no schema yet)."""
    with open_workspace(request, tmp_path / "work", request.param) as ws:
        yield ws


@pytest.fixture
def postgres_workspace(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Workspace]:
    """An empty working directory with a brand-new, empty PostgreSQL database."""
    with open_workspace(request, tmp_path / "work", "postgres") as ws:
        yield ws


@pytest.fixture
def prepared(workspace: Workspace) -> Workspace:
    """A workspace with the schema, the test app ``tasks:app`` and its tasks registered."""
    workspace.prepare()
    return workspace


@pytest.fixture
def bare(tmp_path: Path) -> Workspace:
    """An empty directory and no COORD_DATABASE_URL: the embedded default, not created."""
    return Workspace(tmp_path / "bare", "sqlite")
