"""The storage port of the event feed: events in a stable order, from a cursor on.

A cursor is an opaque string, with one exception every store reads alike:
:data:`START` (``"0"``), before the first event. On SQLite a cursor is the last event
id (writers are serialized, so ids grow in commit order). On PostgreSQL ids are not committed in
order, so the feed runs in ``(transaction id, event id)`` order and only shows an
event once every older transaction has ended: a reader never skips an event that
commits after a newer one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from coord.domain.views import EventInfo

#: The cursor before the first event, on every backend (what a client passes to read
#: the feed from its beginning, e.g. to start a live stream with the past).
START = "0"


@dataclass(frozen=True, slots=True)
class EventQuery:
    """Which events to read. ``topic`` matches a whole topic (``task.succeeded``) or
    a family (``task`` matches ``task.*``); ``agent`` keeps the events an agent did
    and those of messages delivered to it."""

    topic: str | None = None
    run_id: str | None = None
    agent: str | None = None
    limit: int = 100


@dataclass(frozen=True, slots=True)
class EventPage:
    """Events after a cursor, each with the cursor that resumes right after it, and
    the cursor to continue from (the last event's, or the one given)."""

    events: list[EventInfo]
    cursors: list[str]
    cursor: str


class EventFeed(Protocol):
    """The event feed of a coord database."""

    def event_cursor_now(self) -> str:
        """A cursor after every event visible now (where a live follower starts)."""
        ...

    def events_after(self, cursor: str | None, query: EventQuery) -> EventPage:
        """Events after ``cursor`` (None or :data:`START`: from the first) matching
        ``query``, in feed order, at most ``query.limit``. ``ValueError`` for a cursor
        this store never made (or one beyond the range of its parts)."""
        ...
