"""Where a command's operations go: the database (the local surface, as the local
principal, recorded as ``cli:USER``) or a coord server (``--api-url`` /
``COORD_API_URL``: a :class:`coord.Client` as the agent of ``COORD_API_KEY``).
Both are the same :class:`coord.operations.Surface`, so a command is written once
and prints the same text and JSON either way::

    with surface.operations() as ops:
        found = ops.tasks.get(task_id)
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from coord.cli import context
from coord.errors import ConfigError
from coord.operations import Surface
from coord.operations._sync.local import LocalSurface
from coord.operations.local_parts import LocalParts
from coord.ports.store import Store

if TYPE_CHECKING:
    from coord.client import Client


def active() -> bool:
    """Whether the commands go to a server (``--api-url`` / ``COORD_API_URL``)."""
    return context.settings().api_url is not None


def client() -> Client:
    """A Client of the configured server, as the agent of ``COORD_API_KEY``."""
    from coord.client import Client  # httpx: only for commands sent to a server

    current = context.settings()
    url = current.api_url
    if url is None:
        raise ConfigError("no server given: use --api-url URL or set COORD_API_URL")
    if current.api_key is None or not current.api_key.get_secret_value():
        raise ConfigError(
            f"COORD_API_KEY is not set: commands sent to the server at {url} act as the "
            "agent of an API key (create one with `coord key create --agent NAME` where "
            "the database is, then export COORD_API_KEY=KEY)",
            setting="COORD_API_KEY",
        )
    # The CLI's log handler would print a line per request at INFO: only problems,
    # unless --log-level DEBUG asks for everything.
    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        return Client(url, current.api_key.get_secret_value())
    except ConfigError as exc:  # a malformed URL: name where it came from
        given = "--api-url" if context.api_url_given() else "COORD_API_URL"
        raise ConfigError(f"{given}: {exc.message}", setting=given) from None


def on(store: Store) -> LocalSurface:
    """The local surface over an open store (as the local principal)."""
    current = context.settings()
    parts = LocalParts(
        store=lambda: store,
        settings=lambda: current,
        local_actor=context.actor(),
    )
    return LocalSurface(parts)


@contextmanager
def operations() -> Iterator[Surface]:
    """The configured database's surface, or the configured server's."""
    if active():
        with client() as server:
            yield server
        return
    with context.open_store() as store:
        yield on(store)
