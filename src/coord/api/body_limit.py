"""The request body limit (``COORD_API_MAX_BODY_BYTES``), answered as problem+json.

FastAPI's own ``max_body_size`` answers ``text/plain`` "Content Too Large" before
coord's error handlers see the request; this middleware takes its place. A body
declared larger than the limit (``Content-Length``) is refused before it is read; a
body sent without a length (chunked) is counted as it arrives and refused as soon
as it goes over. Either way the answer is 413 ``payload_too_large`` and no route
runs with a partial body.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from coord.api import problems


class BodyTooLarge(HTTPException):
    """Raised while a body is read past the limit; an ``HTTPException``, so the
    route's error handlers answer it (FastAPI passes those through when reading)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is over {limit} bytes (COORD_API_MAX_BODY_BYTES)")


class BodyLimit:
    """ASGI middleware refusing request bodies over ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(Headers(scope=scope))
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:
            if started:  # too late for an answer: drop the connection
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = BodyTooLarge(self.max_bytes)
        response = problems.problem(413, "payload_too_large", str(error.detail))
        response.headers["Connection"] = "close"  # the rest of the body is not read
        await response(scope, receive, send)


def _content_length(headers: Headers) -> int | None:
    value = headers.get("content-length")
    if value is None or not value.isdigit():
        return None
    return int(value)
