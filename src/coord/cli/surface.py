"""Where a command's operations go: the database (the local surface, as the local
principal, recorded as ``cli:USER``) or a coord server (``--api-url`` /
``COORD_API_URL``: a :class:`coord.Client` as the agent of ``COORD_API_KEY``).
Both are the same :class:`coord.operations.Surface`, so a command is written once
and prints the same text and JSON either way::

    with surface.operations() as ops:
        found = ops.tasks.get(task_id)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from coord.cli import context, remote
from coord.operations import Surface
from coord.operations._sync.local import LocalSurface
from coord.operations.local_parts import LocalParts


@contextmanager
def operations() -> Iterator[Surface]:
    """The configured database's surface, or the configured server's."""
    if remote.active():
        with remote.client() as server:
            yield server
        return
    current = context.settings()
    with context.open_store() as store:
        parts = LocalParts(
            store=lambda: store,
            settings=lambda: current,
            local_actor=context.actor(),
        )
        yield LocalSurface(parts)
