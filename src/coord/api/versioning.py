"""Deprecating an operation of ``/api/v1`` (the policy: docs/api.md, "Versioning and
deprecation").

A deprecated operation keeps working until its sunset. It is marked
``deprecated: true`` in the OpenAPI document (with ``x-deprecated-since``,
``x-sunset`` and, when it has one, ``x-successor``), and every answer it gives
carries ``Deprecation`` (RFC 9745: ``@`` and the Unix time it was deprecated),
``Sunset`` (RFC 8594: the HTTP date after which it may be gone) and, for a
successor, ``Link: <...>; rel="successor-version"``. Mark a route with
``**deprecated(...)`` in its decorator::

    @router.get("/old", operation_id="old", **deprecated(since=..., sunset=...))
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from email.utils import formatdate
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MIN_NOTICE = timedelta(days=180)  # the policy: six months between marking and sunset


def deprecated(*, since: date, sunset: date, successor: str | None = None) -> dict[str, Any]:
    """The options of a route decorator that deprecate its operation from ``since``
    (at 00:00 UTC) until ``sunset``, at least :data:`MIN_NOTICE` later, pointing to
    ``successor`` (a path) when given."""
    if sunset - since < MIN_NOTICE:
        raise ValueError(
            f"a sunset comes at least {MIN_NOTICE.days} days after the deprecation "
            f"({since} -> {sunset})"
        )
    extra = {"x-deprecated-since": since.isoformat(), "x-sunset": sunset.isoformat()}
    if successor is not None:
        extra["x-successor"] = successor
    return {"deprecated": True, "openapi_extra": extra}


def deprecation_headers(extra: dict[str, Any]) -> dict[str, str]:
    """The headers of an answer of a deprecated operation, from its OpenAPI extras."""
    since = date.fromisoformat(extra["x-deprecated-since"])
    sunset = date.fromisoformat(extra["x-sunset"])
    headers = {
        "Deprecation": f"@{calendar.timegm(since.timetuple())}",
        "Sunset": formatdate(calendar.timegm(sunset.timetuple()), usegmt=True),
    }
    if "x-successor" in extra:
        headers["Link"] = f'<{extra["x-successor"]}>; rel="successor-version"'
    return headers


class DeprecationHeaders:
    """ASGI middleware: the answers of a route marked with :func:`deprecated` carry
    its ``Deprecation``, ``Sunset`` (and ``Link``) headers, errors included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                # The router puts the matched route in the scope it was given.
                route = scope.get("route")
                extra = getattr(route, "openapi_extra", None) or {}
                if getattr(route, "deprecated", False) and "x-sunset" in extra:
                    headers = MutableHeaders(scope=message)
                    for name, value in deprecation_headers(extra).items():
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_marked)
