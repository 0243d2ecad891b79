"""Fixtures of the API tests: a server in process on each backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.harness import Api, running_api


@pytest.fixture
def api(database_url: str) -> Iterator[Api]:
    """A server with the cast (one agent per role, each with a key)."""
    with running_api(database_url) as running:
        yield running
