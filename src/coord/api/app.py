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

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from coord.api import problems
from coord.api.body_limit import BodyLimit
from coord.api.deps import Server
from coord.api.routes import agents, audit, events, health, keys, messages, runs, tasks
from coord.app import connect
from coord.errors import ConfigError, CoordError
from coord.ports.store import Store
from coord.security.ratelimit import RateLimiter
from coord.services import audit as audit_service
from coord.services import auth
from coord.services import keys as key_service
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
                limiter=RateLimiter(settings.api_rate, settings.api_burst),
                dev_mode=dev_mode,
            )
            sealer = asyncio.create_task(_seal_forever(opened, settings.ledger_seal_interval))
            try:
                yield
            finally:
                sealer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sealer
        finally:
            if own:
                opened.close()

    app = FastAPI(
        title="coord",
        version=version("coord"),
        summary="Durable tasks, agent mailboxes and workflow runs for teams of AI agents.",
        lifespan=lifespan,
        responses=problems.PROBLEM_RESPONSES,
    )
    # coord's own body limit, not FastAPI's max_body_size (which answers text/plain).
    app.add_middleware(BodyLimit, max_bytes=settings.api_max_body_bytes)
    problems.install(app)
    app.include_router(health.router)
    for router in (agents, messages, tasks, runs, events, audit, keys):
        app.include_router(router.router, prefix=PREFIX)
    _document_problems(app)
    return app


def _document_problems(app: FastAPI) -> None:
    """Build the OpenAPI document once, with errors as problem+json."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = problems.document_problems(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


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
