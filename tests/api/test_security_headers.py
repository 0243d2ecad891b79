"""Security headers on every answer of the API (issue 13, item 11): successes, every
kind of error (from a route, the router, the body limit, the 500 handler) and the
event stream, on both backends."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from coord.api.app import create_app
from coord.settings import load_settings
from tests.api.harness import Api, running_api

EXPECTED = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


def assert_secured(headers: httpx.Headers | dict[str, str]) -> None:
    found = {k.lower(): v for k, v in headers.items()}
    for name, value in EXPECTED.items():
        assert found.get(name) == value, (name, found)
    assert "frame-ancestors 'none'" in found.get("content-security-policy", ""), found
    assert "no-store" in found.get("cache-control", ""), found


@pytest.fixture
def small_api(database_url: str) -> Any:
    with running_api(database_url, api_max_body_bytes=200) as running:
        yield running


@pytest.mark.parametrize(
    ("agent", "method", "path", "kwargs", "status"),
    [
        ("alice", "GET", "/api/v1/me", {}, 200),
        (None, "GET", "/api/v1/me", {}, 401),
        ("vic", "DELETE", "/api/v1/agents/alice", {}, 403),
        ("alice", "GET", "/api/v1/no-such-route", {}, 404),
        ("alice", "GET", "/api/v1/agents/nobody", {}, 404),
        ("alice", "PATCH", "/api/v1/me", {}, 405),
        ("alice", "POST", "/api/v1/agents", {"json": {"name": "x" * 300}}, 413),
        ("root", "GET", "/api/v1/events/list", {"params": {"limit": 0}}, 422),
        (None, "GET", "/healthz", {}, 200),
    ],
)
def test_every_answer_carries_the_security_headers(
    small_api: Api, agent: str | None, method: str, path: str, kwargs: Any, status: int
) -> None:
    answer = small_api.call(agent, method, path, **kwargs)
    assert answer.status_code == status, answer.text
    assert_secured(answer.headers)


def test_a_500_carries_the_security_headers(database_url: str) -> None:
    with running_api(database_url) as api:
        server = create_app(
            load_settings(database_url=database_url), store=api.app.store, dev_mode=True
        )

        @server.get("/api/v1/boom")
        def boom() -> None:
            raise RuntimeError("boom")

        with TestClient(server, raise_server_exceptions=False) as client:
            answer = client.get("/api/v1/boom")
    assert answer.status_code == 500
    assert answer.json()["code"] == "internal_error"
    assert_secured(answer.headers)


async def _stream_start(app: FastAPI, path: str, headers: dict[str, str]) -> dict[str, Any]:
    """The start message of a streamed answer (the stream itself never ends)."""
    start: dict[str, Any] = {}
    got = anyio.Event()
    asked = False

    async def receive() -> dict[str, Any]:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
            got.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            group.start_soon(app, scope, receive, send)
            await got.wait()
            group.cancel_scope.cancel()
    return start


def test_the_event_stream_carries_the_security_headers(api: Api) -> None:
    app = api.client.app
    assert isinstance(app, FastAPI)
    portal = api.client.portal
    assert portal is not None
    start = portal.call(_stream_start, app, "/api/v1/events", api.auth("root"))
    assert start["status"] == 200
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    assert headers["content-type"].startswith("text/event-stream")
    assert_secured(headers)
    assert "no-cache" in headers["cache-control"]  # the stream's own directive is kept
