"""Errors as RFC 9457 problem details (``application/problem+json``).

Every error the API returns has the same shape: ``type``, ``title``, ``status``,
``detail`` and coord's stable ``code``, plus the error's data (the field at fault, the
id not found). Unexpected errors answer 500 with nothing of their internals.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException

from coord.api.headers import secure
from coord.api.problem_pages import type_uri
from coord.domain.content import ContentInvalid
from coord.errors import CoordError, RateLimited

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

# By coord error code (a subclass without its own entry takes its parent's).
_STATUS: dict[str, int] = {
    "invalid_input": 422,
    "unknown_task": 422,
    "idempotency_conflict": 422,
    "not_found": 404,
    "conflict": 409,
    "unauthenticated": 401,
    "forbidden": 403,
    "rate_limited": 429,
    "secret_unavailable": 404,
    "store_error": 503,
    "config_invalid": 500,
    "setting_missing": 503,
    "wait_timeout": 504,
}
_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


# Codes the API layer answers itself (the others are those of coord.errors).
API_CODES = frozenset(
    {*_HTTP_CODES.values(), "http_error", "malformed_json", "internal_error", "not_ready"}
)


class Problem(BaseModel):
    """An RFC 9457 problem: what went wrong, for people (``detail``) and programs
    (``code``, and the named ``field`` for bad input)."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    code: str


def status_of(exc: CoordError) -> int:
    """The HTTP status of a coord error, by its code and then its parents' codes."""
    for cls in type(exc).__mro__:
        code = getattr(cls, "code", None)
        if code in _STATUS:
            return _STATUS[code]
    return 500


def problem(status: int, code: str, detail: str, **extra: Any) -> JSONResponse:
    """A problem+json response."""
    body = {
        "type": type_uri(code),
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }
    headers = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="coord"'
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def from_error(exc: CoordError) -> JSONResponse:
    """The problem response of a coord error (its data carried along)."""
    status = status_of(exc)
    extra = {k: v for k, v in exc.data.items() if k not in {"type", "title", "status"}}
    response = problem(status, exc.code, exc.message, **_jsonable(extra))
    if isinstance(exc, RateLimited):
        response.headers["Retry-After"] = str(max(1, round(exc.retry_after + 0.499)))
    return response


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v if isinstance(v, str | int | float | bool | list | None) else str(v)
        for k, v in data.items()
    }


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    # ("body", "to") -> "to"; ("query", "limit") -> "limit"; ("path", "name") -> "name"
    parts = [str(p) for p in loc[1:]] if len(loc) > 1 else [str(p) for p in loc]
    return ".".join(parts) or "body"


def _described(error: dict[str, Any]) -> dict[str, str]:
    """One validation error as ``{field, message}``; a domain refusal (NaN, NUL...)
    found by a body's own check names the field inside the body itself."""
    field = _field(error.get("loc", ()))
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, ContentInvalid):
        inner = cause.field if cause.field != "body" else ""
        field = ".".join(p for p in (field if field != "body" else "", inner) if p) or "body"
        return {"field": field, "message": cause.problem}
    return {"field": field, "message": error.get("msg", "invalid")}


def _not_json(request: Request) -> bool:
    """A request with a body that does not say it is JSON (FastAPI then does not
    parse it, and its model sees bytes)."""
    headers = request.headers
    if headers.get("content-length", "0") == "0" and "transfer-encoding" not in headers:
        return False
    kind = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return not (
        kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json"))
    )


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    if _not_json(request) and any(e.get("loc", ("",))[0] == "body" for e in exc.errors()):
        return problem(
            415,
            "unsupported_media_type",
            "the request body must be JSON: send it with Content-Type: application/json",
        )
    errors = [_described(e) for e in exc.errors()]
    if any(e.get("type") == "json_invalid" for e in exc.errors()):
        return problem(400, "malformed_json", "the request body is not valid JSON", errors=errors)
    first = errors[0] if errors else {"field": "body", "message": "invalid"}
    return problem(
        422,
        "invalid_input",
        f"{first['field']}: {first['message']}",
        field=first["field"],
        errors=errors,
    )


async def _coord(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CoordError)
    return from_error(exc)


async def _http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    response = problem(exc.status_code, code, detail)
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unexpected error on %s %s", request.method, request.url.path)
    response = problem(500, "internal_error", "the server failed; the error is in its log")
    secure(response.headers)  # sent outside every middleware, SecurityHeaders included
    return response


def install(app: FastAPI) -> None:
    """Answer every error of ``app`` as problem+json."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(CoordError, _coord)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "description": text}
    for status, text in (
        (400, "Malformed request"),
        (401, "Missing or invalid API key"),
        (403, "Not allowed for this caller"),
        (404, "Not found"),
        (409, "Conflicts with the stored state"),
        (413, "Request body too large"),
        (415, "The request body is not JSON"),
        (422, "Invalid input (the field is named)"),
        (429, "Rate limited (see Retry-After)"),
        (503, "The store is unavailable, or the server lacks a setting (named)"),
    )
}


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Declare error responses as ``application/problem+json`` (FastAPI puts a
    response model under ``application/json``)."""
    problem_ref = {"$ref": "#/components/schemas/Problem"}
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if (
                    status[:1] in "45"
                    and content.get("application/json", {}).get("schema") == problem_ref
                ):
                    response["content"] = {PROBLEM_JSON: {"schema": problem_ref}}
    return schema
