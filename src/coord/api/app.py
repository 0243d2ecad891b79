"""The FastAPI application: routers under ``/api/v1``, problem+json errors, keys,
rate limits, and the ledger sealed in the background while it serves."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from importlib.metadata import version
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from coord.api import docs_page, openapi_docs, problem_pages, problems
from coord.api.body_limit import BodyLimit
from coord.api.deps import Server, access_denial, server_of
from coord.api.headers import SecurityHeaders
from coord.api.routes import agents, audit, events, health, keys, messages, runs, tasks
from coord.api.versioning import DeprecationHeaders
from coord.connection import connect
from coord.errors import ConfigError, CoordError, Forbidden
from coord.operations.local_parts import LocalParts
from coord.ports.store import Store
from coord.security.ratelimit import RateLimiter
from coord.services import audit as audit_service
from coord.services import auth
from coord.services import keys as key_service
from coord.services.denials import DenialGuard
from coord.settings import Settings, load_settings

logger = logging.getLogger(__name__)

PREFIX = "/api/v1"
# How `coord server --workers N` tells its worker processes about --dev.
DEV_MODE_VARIABLE = "COORD_SERVER_DEV_MODE"
DEV_WARNING = (
    "coord server is running in DEVELOPMENT MODE WITHOUT AUTHENTICATION: every request "
    "without a key acts as an admin. Never expose it; create keys with `coord key create` "
    "and start without --dev."
)


def create_app(
    settings: Settings, *, store: Store | None = None, dev_mode: bool = False
) -> FastAPI:
    """The API app over ``store`` (or the configured database, opened at startup).

    Startup refuses (``ConfigError``) a database without any usable API key unless
    ``dev_mode``, which logs a loud warning and serves keyless requests as an admin.
    """
    roles = auth.load_roles(settings.rbac_file)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = store is None
        opened = store or connect(settings, create=False, upgrade_new=False, check_schema=False)
        try:
            if dev_mode:
                logger.warning(DEV_WARNING)
            elif not key_service.any_usable_key(opened):
                raise ConfigError(
                    "no usable API key in the database: create one with "
                    "`coord key create --agent NAME --role admin`, or start the server with "
                    "--dev (development only: no authentication)"
                )
            app.state.coord = Server(
                store=opened,
                settings=settings,
                roles=roles,
                parts=LocalParts(
                    store=lambda: opened,
                    settings=lambda: settings,
                    roles=roles,
                ),
                limiter=RateLimiter(settings.api_rate, settings.api_burst),
                denials=DenialGuard(
                    opened,
                    failures=settings.api_auth_failures,
                    window=settings.api_auth_window,
                    record_limit=settings.api_denial_events,
                ),
                dev_mode=dev_mode,
            )
            background = [
                asyncio.create_task(_seal_forever(opened, settings.ledger_seal_interval)),
                asyncio.create_task(
                    _summarize_denials_forever(app.state.coord.denials, settings.api_auth_window)
                ),
            ]
            try:
                yield
            finally:
                for task in background:
                    task.cancel()
                for task in background:
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
        finally:
            if own:
                opened.close()

    app = FastAPI(
        title="coord",
        version=version("coord"),
        summary="Durable tasks, agent mailboxes and workflow runs for teams of AI agents.",
        lifespan=lifespan,
        responses=problems.PROBLEM_RESPONSES,
        # /docs is coord's own page over vendored assets (FastAPI's loads a CDN);
        # ReDoc, which only exists on a CDN, is not served.
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    # coord's own body limit, not FastAPI's max_body_size (which answers text/plain).
    app.add_middleware(BodyLimit, max_bytes=settings.api_max_body_bytes)
    # Deprecated operations say so in every answer (Deprecation, Sunset).
    app.add_middleware(DeprecationHeaders)
    # Outermost: every answer carries the security headers (the 500 handler, which
    # runs outside every middleware, adds them itself).
    app.add_middleware(SecurityHeaders)
    problems.install(app)
    app.add_exception_handler(Forbidden, _forbidden)
    app.include_router(health.router)
    app.include_router(docs_page.router)
    app.include_router(problem_pages.router, prefix=PREFIX)
    for router in (agents, messages, tasks, runs, events, audit, keys):
        app.include_router(router.router, prefix=PREFIX)
    _document_problems(app)
    return app


def _document_problems(app: FastAPI) -> None:
    """Build the OpenAPI document once, with errors as problem+json, and what
    :mod:`coord.api.openapi_docs` adds for people (summaries, errors, examples)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = openapi_docs.describe(problems.document_problems(build()))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


async def _forbidden(request: Request, exc: Exception) -> JSONResponse:
    """A 403, recorded as ``access.denied`` first (whatever route refused it)."""
    assert isinstance(exc, Forbidden)
    try:
        await run_in_threadpool(server_of(request).denials.note, access_denial(request))
    except Exception:  # bookkeeping: the client still gets its 403
        logger.exception("could not record a refused request")
    return problems.from_error(exc)


async def _summarize_denials_forever(denials: DenialGuard, window: float) -> None:
    """Close ended denial windows (``auth.suppressed`` events) about every window."""
    interval = min(window, 10.0)
    while True:
        await asyncio.sleep(interval)
        try:
            await run_in_threadpool(denials.summarize)
        except CoordError as exc:
            logger.warning("summarizing refused requests failed (%s); will retry", exc.message)


async def _seal_forever(store: Store, interval: float) -> None:
    """Seal new events into the ledger every ``interval`` seconds (bounded lag)."""
    while True:
        try:
            await run_in_threadpool(audit_service.seal, store)
        except CoordError as exc:
            logger.warning("sealing the ledger failed (%s); will retry", exc.message)
        await asyncio.sleep(interval)


def app_from_environment() -> FastAPI:
    """The app of one ``coord server --workers N`` process: settings from the
    environment, development mode from :data:`DEV_MODE_VARIABLE`."""
    return create_app(load_settings(), dev_mode=os.environ.get(DEV_MODE_VARIABLE) == "1")


def openapi_schema(settings: Settings) -> dict[str, Any]:
    """The OpenAPI document of the API (without starting it)."""
    return create_app(settings, dev_mode=True).openapi()
