"""``coord server``: serve the REST API (and seal the ledger while serving)."""

from __future__ import annotations

import logging
import os
from typing import Annotated, Any

import typer

from coord.cli import context
from coord.cli.output import Format, OutputOption, emit, stdout
from coord.errors import ConfigError
from coord.services import keys as key_service
from coord.settings import ENV_PREFIX

logger = logging.getLogger("coord.cli")


def server(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8000,
    dev: Annotated[
        bool,
        typer.Option(
            "--dev",
            help="Development only: start without any API key and serve requests without "
            "one as an admin (logs a loud warning).",
        ),
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Server processes (each with its own rate-limit buckets; default 1).",
        ),
    ] = 1,
    check: Annotated[
        bool, typer.Option("--check", help="Check that the server can start, then exit.")
    ] = False,
    output: OutputOption = Format.TEXT,
) -> None:
    """Serve the REST API under /api/v1 (OpenAPI at /openapi.json, docs at /docs).

    Every request needs `Authorization: Bearer KEY` (see `coord key create`), except
    /healthz and /readyz. The server refuses to start while the database holds no
    usable key, unless --dev is given.
    """
    # Imported here: the web stack is not loaded for every other command.
    import uvicorn

    from coord.api.app import DEV_MODE_VARIABLE, DEV_WARNING, create_app

    settings = context.settings()
    with context.open_store() as store:
        if not dev and not key_service.any_usable_key(store):
            raise ConfigError(
                "no usable API key in the database: create one with "
                "`coord key create --agent NAME --role admin`, or start the server with "
                "--dev (development only: no authentication)"
            )
    if dev:
        logger.warning(DEV_WARNING)
    if check:
        data = {"ok": True, "host": host, "port": port, "dev": dev, "workers": workers}
        emit(data, output, lambda: stdout.print(f"ready to serve on {host}:{port}"))
        return
    log_level = settings.log_level.lower()
    if workers == 1:
        uvicorn.run(
            create_app(settings, dev_mode=dev),
            host=host,
            port=port,
            log_level=log_level,
            **_proxies(settings.api_trusted_proxies),
        )
        return
    # Worker processes build their own app from the environment: hand them what the
    # command line said.
    os.environ[f"{ENV_PREFIX}DATABASE_URL"] = settings.database_url
    os.environ[DEV_MODE_VARIABLE] = "1" if dev else "0"
    uvicorn.run(
        "coord.api.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        **_proxies(settings.api_trusted_proxies),
    )


def _proxies(trusted: str) -> dict[str, Any]:
    """uvicorn's proxy options: X-Forwarded-For is believed only from the proxies of
    COORD_API_TRUSTED_PROXIES (uvicorn's own default trusts any local process, which
    could then pose as any address and dodge the authentication throttle)."""
    if not trusted.strip():
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": trusted.strip()}
