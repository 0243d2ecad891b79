"""Property-based tests from the OpenAPI document (schemathesis): every operation,
authenticated as an admin, with generated valid and invalid input, on both
backends: no server error, and every response matches the schema (status code,
content type, body).

Left out: ``streamEvents``, an endless SSE stream (who may see what is decided by
the function ``listEvents`` uses, tested here).
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks
from schemathesis.openapi import from_asgi

from coord.api.app import create_app
from coord.settings import load_settings
from tests.api.harness import Api

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


class _Target:
    """An ASGI app that forwards requests to the app of the running test (its
    lifespan already ran in the test's fixture) and answers lifespan itself."""

    def __init__(self) -> None:
        # Until a test runs: an app that only has to serve its schema.
        self.app: Any = create_app(load_settings(database_url="sqlite:///:memory:"), dev_mode=True)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await self.app(scope, receive, send)


TARGET = _Target()
schema = from_asgi("/openapi.json", TARGET)


@pytest.fixture
def served(api: Api) -> Api:
    """The test's server behind the schema's app."""
    TARGET.app = api.client.app
    return api


@schema.exclude(operation_id="streamEvents").parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_every_operation_conforms_to_its_schema(case: schemathesis.Case, served: Api) -> None:
    case.call_and_validate(headers=served.auth("root"), checks=CHECKS)
