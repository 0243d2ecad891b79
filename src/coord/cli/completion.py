"""Values for shell completion, read from the database: agent names, topics, queue
names and run ids.

Each callback is given to a parameter as ``autocompletion=`` and runs when the user
presses TAB, in a ``coord`` process of its own. It opens the database the command
line names (``--database-url``, or ``COORD_DATABASE_URL``) read-only in effect, never
creates one, and fails silent: a shell prints whatever completion writes, so an
error would land in the user's command line. Against a server (``--api-url``,
``COORD_API_URL``) nothing is completed: a network call per keystroke is not cheap.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from coord.ports.store import Store

logger = logging.getLogger(__name__)

Choices = list[tuple[str, str]]


def _complete(
    ctx: typer.Context, incomplete: str, values: Callable[[Store], Iterable[tuple[str, str]]]
) -> Choices:
    """The ``values`` of the database that start with ``incomplete``, with their help."""
    from coord.cli import context

    try:
        # The root callback does not run during completion: read its options here.
        root = ctx.find_root().params
        context.set_database_url(root.get("database_url"))
        context.set_api_url(root.get("api_url"))
        if context.settings().api_url is not None:
            return []
        with context.open_store() as store:
            return [(v, h) for v, h in values(store) if v.startswith(incomplete)]
    except Exception:  # no database, a bad URL, an old schema...: the shell must not see it
        logger.debug("nothing to complete from the database", exc_info=True)
        return []


def _agents(store: Store, *, humans_only: bool = False) -> Iterator[tuple[str, str]]:
    from coord.services import messages

    for agent in messages.list_agents(store):
        if agent.human or not humans_only:
            kind = "human" if agent.human else (agent.role or "agent")
            yield agent.name, kind


def _topics(store: Store) -> Iterator[tuple[str, str]]:
    from coord.services import messages

    subscribers: dict[str, int] = {}
    for agent in messages.list_agents(store):
        for topic in agent.topics:
            subscribers[topic] = subscribers.get(topic, 0) + 1
    for topic, count in sorted(subscribers.items()):
        yield topic, f"{count} subscriber{'s' if count != 1 else ''}"


def agents(ctx: typer.Context, incomplete: str) -> Choices:
    """Registered agent names."""
    return _complete(ctx, incomplete, _agents)


def humans(ctx: typer.Context, incomplete: str) -> Choices:
    """Registered human agents (who may approve or reject a gate)."""
    return _complete(ctx, incomplete, lambda store: _agents(store, humans_only=True))


def topics(ctx: typer.Context, incomplete: str) -> Choices:
    """Topics some agent is subscribed to."""
    return _complete(ctx, incomplete, _topics)


def recipients(ctx: typer.Context, incomplete: str) -> Choices:
    """Where a message may go: an agent, ``topic:NAME`` or ``all``."""

    def values(store: Store) -> Iterator[tuple[str, str]]:
        yield from _agents(store)
        for topic, help_text in _topics(store):
            yield f"topic:{topic}", help_text
        yield "all", "every agent"

    return _complete(ctx, incomplete, values)


def queues(ctx: typer.Context, incomplete: str) -> Choices:
    """Queues that hold tasks."""
    from coord.services import tasks

    return _complete(
        ctx,
        incomplete,
        lambda store: ((q.queue, f"{q.pending} pending") for q in tasks.queue_stats(store)),
    )


def runs(ctx: typer.Context, incomplete: str) -> Choices:
    """Run ids, newest first."""
    from coord.services import runs as service

    return _complete(
        ctx,
        incomplete,
        lambda store: (
            (r.id, f"{r.workflow} {r.state.value}")
            for r in service.list_runs(store, limit=service.MAX_LIST_LIMIT)
        ),
    )
