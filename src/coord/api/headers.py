"""Security headers on every answer of the server (pure ASGI, so streamed and SSE
answers pass through unbuffered).

Every response carries ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``,
``Content-Security-Policy: default-src 'none'; frame-ancestors 'none'`` and
``Referrer-Policy: no-referrer``, and ``Cache-Control: no-store``: a response that set
its own ``Cache-Control`` keeps it, with ``no-store`` added (the SSE stream's
``no-cache`` becomes ``no-cache, no-store``). Errors answered by the routing (404,
405), by the body limit (413) or by the 500 handler carry them too, since this
middleware wraps all of them.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECURITY_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}
NO_STORE = "no-store"


def secure(headers: MutableHeaders) -> None:
    """Add the security headers to a response's headers (kept where already set)."""
    for name, value in SECURITY_HEADERS.items():
        if name not in headers:
            headers[name] = value
    cache = headers.get("cache-control")
    if cache is None:
        headers["Cache-Control"] = NO_STORE
    elif NO_STORE not in cache.lower():
        headers["Cache-Control"] = f"{cache}, {NO_STORE}"


class SecurityHeaders:
    """ASGI middleware adding :data:`SECURITY_HEADERS` and ``Cache-Control: no-store``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                secure(MutableHeaders(scope=message))
            await send(message)

        await self.app(scope, receive, send_secured)
