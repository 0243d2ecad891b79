"""Workspaces for the CLI acceptance tests: a temporary working directory with the
embedded default database (SQLite under ``.coord/``), or with a brand-new PostgreSQL
database passed as ``COORD_DATABASE_URL``.

A workspace that many tests start from (``prepared``: the schema, the test app and its
tasks registered; ``team`` in test_mailbox_cli.py...) is built once per session by the
CLI itself, as a template, and every test gets a copy of its own: the SQLite file (the
whole directory) copied, the PostgreSQL database created from the template's
(``CREATE DATABASE ... TEMPLATE``). The copy holds exactly what the commands wrote, and
costs no ``coord`` process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.acceptance.harness import Templates, Workspace, open_workspace


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


@pytest.fixture(scope="session")
def templates(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Templates]:
    """Workspaces built once per session (per xdist worker), copied for each test."""
    made = Templates(request, tmp_path_factory.mktemp("templates"))
    try:
        yield made
    finally:
        made.close()


@pytest.fixture(params=["sqlite", "postgres"])
def prepared(
    request: pytest.FixtureRequest, tmp_path: Path, templates: Templates
) -> Iterator[Workspace]:
    """A workspace with the schema, the test app ``tasks:app`` and its tasks registered
    (what :meth:`Workspace.prepare` does, copied from a template)."""
    with templates.copy("prepared", request.param, tmp_path / "work", Workspace.prepare) as ws:
        yield ws


@pytest.fixture
def bare(tmp_path: Path) -> Workspace:
    """An empty directory and no COORD_DATABASE_URL: the embedded default, not created."""
    return Workspace(tmp_path / "bare", "sqlite")
