"""Time-ordered identifiers.

Every entity id is a UUIDv7 rendered as its canonical lowercase string: ids sort in
creation order (within one process they are strictly increasing), which gives the
queue its FIFO tie-break and keeps B-tree inserts append-only.
"""

from __future__ import annotations

import uuid_utils


def new_id() -> str:
    """Return a new time-ordered UUIDv7 as a string."""
    return str(uuid_utils.uuid7())


def new_ids(count: int) -> list[str]:
    """Return ``count`` strictly increasing UUIDv7 strings."""
    uuid7 = uuid_utils.uuid7
    return [str(uuid7()) for _ in range(count)]
