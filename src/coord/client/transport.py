"""Running :class:`~coord.client.calls.Call` objects over HTTP, sync and async:
authentication, JSON in and out, errors as coord exceptions, automatic retries of
the calls that are safe to repeat, and lists followed page by page."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TypeVar

import httpx

from coord.client import problems
from coord.client.calls import MAX_PAGE, STREAM_PATH, Call, Pager
from coord.domain import content
from coord.errors import ConfigError, InvalidInput

T = TypeVar("T")

API_PREFIX = "/api/v1"
MAX_RETRY_WAIT = 30.0  # longer waits are the caller's decision: the error says how long
STREAM_READ_TIMEOUT = 45.0  # the server pings every 15 s: three missed pings = dropped


def api_base(url: str) -> str:
    """The API root of a server URL (``http://host:8000`` or ``.../api/v1``)."""
    text = url.strip().rstrip("/")
    if not text.startswith(("http://", "https://")):
        raise ConfigError(
            f"the coord server URL must start with http:// or https:// (got {url!r})", url=url
        )
    try:
        host = httpx.URL(text).host
    except httpx.InvalidURL as exc:
        raise ConfigError(f"the coord server URL {url!r} is not a URL: {exc}", url=url) from None
    if not host:
        raise ConfigError(f"the coord server URL {url!r} names no host", url=url)
    return text if text.endswith(API_PREFIX) else text + API_PREFIX


def headers(api_key: str | None) -> dict[str, str]:
    """What every request carries. Without a key, the request is anonymous: only a
    server in development mode (``coord server --dev``) answers it."""
    if api_key is not None and not api_key.strip():
        raise ConfigError("the API key is empty (COORD_API_KEY; see `coord key create`)")
    if api_key is None:
        return {"User-Agent": "coord-client"}
    return {"Authorization": f"Bearer {api_key}", "User-Agent": "coord-client"}


def _result(call: Call[T], response: httpx.Response) -> T:
    if not response.is_success:
        raise problems.error_from(response)
    if call.raw:
        return call.parse(response.content)
    if response.status_code == 204 or not response.content:
        return call.parse(None)
    return call.parse(response.json())


def _retry_wait(call: Call[Any], response: httpx.Response, attempt: int, retries: int) -> float:
    """How long to wait before sending ``call`` again; -1: do not."""
    if not (call.retry and attempt < retries and problems.retryable(response)):
        return -1.0
    wait = problems.retry_after(response)
    if wait is None:
        wait = 0.5 * 2**attempt
    return -1.0 if wait > MAX_RETRY_WAIT else wait


def _request(call: Call[Any]) -> dict[str, Any]:
    if call.body is None:
        return {"params": call.params or None}
    return {
        "params": call.params or None,
        "content": _json(call.body),
        "headers": {"Content-Type": "application/json"},
    }


def _json(body: Any) -> bytes:
    """The request body as JSON, refused here (``InvalidInput`` naming the field, as
    the server would) when JSON cannot hold it: NaN, Infinity, a NUL character."""
    try:
        return content.encode(body, "body").encode()
    except content.ContentInvalid as exc:
        field = exc.field.removeprefix("body.")
        raise InvalidInput(f"{field}: {exc.problem}", field=field) from None


def _stream_args(params: dict[str, Any], cursor: str | None, read: float) -> dict[str, Any]:
    return {
        "params": params,
        "headers": {"Last-Event-ID": cursor} if cursor else {},
        "timeout": httpx.Timeout(10.0, read=read),
    }


def _pages_left(limit: int | None, have: int) -> int:
    return MAX_PAGE if limit is None else min(MAX_PAGE, limit - have)


class SyncTransport:
    """Calls over an ``httpx.Client``."""

    def __init__(self, http: httpx.Client, url: str, retries: int) -> None:
        self.http, self.url, self.retries = http, url, retries

    def do(self, call: Call[T]) -> T:
        """Send ``call`` (again after a 429/503 when it is safe to) and read its answer."""
        attempt = 0
        while True:
            try:
                response = self.http.request(call.method, call.path, **_request(call))
            except httpx.TransportError as exc:
                raise problems.unavailable(exc, self.url) from exc
            wait = _retry_wait(call, response, attempt, self.retries)
            if wait < 0:
                return _result(call, response)
            time.sleep(wait)
            attempt += 1

    def collect(self, pager: Pager[T], limit: int | None) -> list[T]:
        """Items of every page (at most ``limit``), following the cursors."""
        items: list[T] = []
        cursor: str | None = None
        while limit is None or len(items) < limit:
            page = self.do(pager(_pages_left(limit, len(items)), cursor))
            items += page.data
            if not page.has_more or page.next_cursor is None:
                break
            cursor = page.next_cursor
        return items if limit is None else items[:limit]

    @contextmanager
    def stream(
        self, params: dict[str, Any], cursor: str | None, read: float = STREAM_READ_TIMEOUT
    ) -> Iterator[httpx.Response]:
        """The event stream, open (errors raised as coord errors)."""
        args = _stream_args(params, cursor, read)
        with self.http.stream("GET", STREAM_PATH, **args) as response:
            if not response.is_success:
                response.read()
                raise problems.error_from(response)
            yield response


class AsyncTransport:
    """Calls over an ``httpx.AsyncClient``."""

    def __init__(self, http: httpx.AsyncClient, url: str, retries: int) -> None:
        self.http, self.url, self.retries = http, url, retries

    async def do(self, call: Call[T]) -> T:
        """Send ``call`` (again after a 429/503 when it is safe to) and read its answer."""
        attempt = 0
        while True:
            try:
                response = await self.http.request(call.method, call.path, **_request(call))
            except httpx.TransportError as exc:
                raise problems.unavailable(exc, self.url) from exc
            wait = _retry_wait(call, response, attempt, self.retries)
            if wait < 0:
                return _result(call, response)
            await asyncio.sleep(wait)
            attempt += 1

    async def collect(self, pager: Pager[T], limit: int | None) -> list[T]:
        """Items of every page (at most ``limit``), following the cursors."""
        items: list[T] = []
        cursor: str | None = None
        while limit is None or len(items) < limit:
            page = await self.do(pager(_pages_left(limit, len(items)), cursor))
            items += page.data
            if not page.has_more or page.next_cursor is None:
                break
            cursor = page.next_cursor
        return items if limit is None else items[:limit]

    @asynccontextmanager
    async def stream(
        self, params: dict[str, Any], cursor: str | None, read: float = STREAM_READ_TIMEOUT
    ) -> AsyncIterator[httpx.Response]:
        """The event stream, open (errors raised as coord errors)."""
        args = _stream_args(params, cursor, read)
        async with self.http.stream("GET", STREAM_PATH, **args) as response:
            if not response.is_success:
                await response.aread()
                raise problems.error_from(response)
            yield response
