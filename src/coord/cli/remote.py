"""Where the run and gate commands' data comes from (the other commands use
:mod:`coord.cli.surface`; runs join it next, and this module goes): the database
or a coord server (``--api-url`` / ``COORD_API_URL``, through :class:`coord.Client`).

Commands call services through a session instead of a store::

    with remote.session() as call:
        found = call(service.get_task, task_id)

Locally that is ``service.get_task(store, task_id)``. Remotely it is the service's
*twin*, a function of the same signature taking a Client instead of a Store
(registered with :func:`twin_of`, in :mod:`coord.cli.remote_runs`), returning
the same models, so that the command prints the same text and JSON either way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar, cast

from coord.cli import context
from coord.errors import ConfigError, CoordError
from coord.ports.store import Store

if TYPE_CHECKING:
    # Only for the annotations: the client (httpx) is imported when a command goes
    # to a server, not by every command that could.
    from coord.client import Client

P = ParamSpec("P")
T = TypeVar("T")

_TWINS: dict[Callable[..., Any], Callable[..., Any]] = {}


def twin_of(
    local: Callable[Concatenate[Store, P], T],
) -> Callable[[Callable[Concatenate[Client, P], T]], Callable[Concatenate[Client, P], T]]:
    """Register the remote twin of the service function ``local`` (mypy checks that
    it takes the same arguments and returns the same type)."""

    def register(twin: Callable[Concatenate[Client, P], T]) -> Callable[Concatenate[Client, P], T]:
        _TWINS[local] = twin
        return twin

    return register


def active() -> bool:
    """Whether the commands that have a remote form go to a server."""
    return context.settings().api_url is not None


def client() -> Client:
    """A Client of the configured server, as the agent of ``COORD_API_KEY``."""
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
    from coord.client import Client

    try:
        return Client(url, current.api_key.get_secret_value())
    except ConfigError as exc:  # a malformed URL: name where it came from
        given = "--api-url" if context.api_url_given() else "COORD_API_URL"
        raise ConfigError(f"{given}: {exc.message}", setting=given) from None


class Services:
    """Calls service functions on the open database, or their twins on the server."""

    def __init__(self, store: Store | None = None, server: Client | None = None) -> None:
        self._store, self._server = store, server

    @property
    def server(self) -> Client | None:
        """The Client when the session is remote (for the few remote-only steps)."""
        return self._server

    def __call__(
        self, fn: Callable[Concatenate[Store, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """``fn(store, ...)`` locally; its twin ``(client, ...)`` remotely."""
        if self._store is not None:
            return fn(self._store, *args, **kwargs)
        assert self._server is not None
        twin = _twins().get(fn)
        if twin is None:
            raise CoordError(
                f"this command has no remote form ({fn.__name__} is not served by the "
                "API): run it where the database is, without --api-url / COORD_API_URL"
            )
        return cast(T, twin(self._server, *args, **kwargs))


@contextmanager
def session() -> Iterator[Services]:
    """The configured database, or the configured server, for one command."""
    if not active():
        with context.open_store() as store:
            yield Services(store=store)
        return
    with client() as server:
        yield Services(server=server)


def _twins() -> dict[Callable[..., Any], Callable[..., Any]]:
    # Imported here, not at the top: remote_runs registers its twins with twin_of,
    # so it imports this module.
    from coord.cli import remote_runs

    del remote_runs
    return _TWINS
