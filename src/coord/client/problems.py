"""From HTTP answers to coord errors: a problem+json answer raises the coord error
of its ``code`` (with its data: the ``field`` at fault, ``retry_after``...), so
remote code catches the same exceptions as code using an :class:`~coord.App`."""

from __future__ import annotations

import email.utils
import time
from typing import Any

import httpx

from coord.errors import (
    CoordError,
    RateLimited,
    ServerUnavailable,
    SettingMissing,
    TransientError,
)

_PROBLEM_KEYS = {"type", "title", "detail", "code"}  # the problem's frame, not its data
_RETRYABLE = {429, 503}
_GATEWAY = {502, 503, 504}


def _error_classes() -> dict[str, type[CoordError]]:
    """Every error class of :mod:`coord.errors` by its code."""
    found: dict[str, type[CoordError]] = {}
    pending: list[type[CoordError]] = [CoordError]
    while pending:
        cls = pending.pop()
        if cls.__module__ == CoordError.__module__:
            found.setdefault(cls.code, cls)
        pending.extend(cls.__subclasses__())
    return found


def retry_after(response: httpx.Response) -> float | None:
    """Seconds the ``Retry-After`` header asks to wait (None when absent or bad)."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def retryable(response: httpx.Response) -> bool:
    """Whether the server asks to come back later (429, 503; not a 503 for a setting
    the server lacks: only an operator can fix that)."""
    if response.status_code not in _RETRYABLE:
        return False
    problem = _problem(response) if response.status_code == 503 else None
    return problem is None or problem.get("code") != SettingMissing.code


def error_from(response: httpx.Response) -> CoordError:
    """The coord error an unsuccessful answer stands for."""
    problem = _problem(response)
    if problem is None:
        detail = response.text.strip()[:200] or response.reason_phrase
        message = f"the server answered HTTP {response.status_code}: {detail}"
        if response.status_code in _GATEWAY:
            return ServerUnavailable(message, status=response.status_code)
        return CoordError(message, status=response.status_code)
    code = str(problem.get("code", ""))
    message = str(problem.get("detail") or problem.get("title") or code)
    data: dict[str, Any] = {k: v for k, v in problem.items() if k not in _PROBLEM_KEYS}
    cls = _error_classes().get(code, CoordError)
    if issubclass(cls, RateLimited):
        told = data.pop("retry_after", None)
        wait = retry_after(response)
        if wait is None:
            wait = float(told) if isinstance(told, int | float) else 1.0
        return cls(message, retry_after=wait, **data)
    if issubclass(cls, TransientError):
        return cls(message, retry_after=retry_after(response), **data)
    if cls is CoordError and code:
        data["code"] = code  # an error this client does not know: keep what it was
    return cls(message, **data)


def unavailable(exc: httpx.HTTPError, url: str) -> ServerUnavailable:
    """The error for a server that could not be reached or did not answer."""
    if isinstance(exc, httpx.TimeoutException):
        what = f"no answer from the coord server at {url} in time ({type(exc).__name__})"
    else:
        what = f"cannot reach the coord server at {url}: {exc or type(exc).__name__}"
    return ServerUnavailable(what, url=url)


def _problem(response: httpx.Response) -> dict[str, Any] | None:
    kind = response.headers.get("content-type", "")
    if "json" not in kind:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) and "code" in body else None
