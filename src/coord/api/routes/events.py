"""The event feed: a page of events, or a live Server-Sent Events stream.

Who sees what: events of one run need ``read_runs`` (and its workflow's domain); an
agent's events (what it did, and the messages delivered to it) need ``read_events``
for itself, ``read_all_inboxes`` for another agent; everything unfiltered needs
``read_all_inboxes`` too, since message events name senders and recipients.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel

from coord.api.deps import Authenticated, Caller, require
from coord.domain.views import EventInfo
from coord.errors import InvalidInput
from coord.ports.events import EventPage, EventQuery
from coord.services import runs as run_service

router = APIRouter(tags=["events"])

POLL_SECONDS = 0.2  # how often a live stream looks for new events
Topic = Annotated[
    str | None, Query(max_length=200, description="A topic (task.succeeded) or family (task).")
]
RunFilter = Annotated[str | None, Query(max_length=64, description="Events of one run.")]
AgentFilter = Annotated[
    str | None, Query(max_length=64, description="What an agent did and was sent.")
]
EventCursor = Annotated[
    str | None,
    Query(
        max_length=64,
        description="A cursor the server gave (next_cursor, an SSE id), or 0: from the first "
        "event.",
    ),
]


class EventList(BaseModel):
    """Events after a cursor, and the cursor to continue from: the shape of every
    list (``{data, next_cursor, has_more}``), except that the feed never ends, so
    ``next_cursor`` is always given (where to look again later for newer events)."""

    data: list[EventInfo]
    next_cursor: str
    has_more: bool


def _query(
    who: Caller, topic: str | None, run: str | None, agent: str | None, limit: int
) -> EventQuery:
    if run is not None:
        run = run_service.readable_run(who.store, run, who.principal, who.server.roles).id
    if agent != who.agent and not (agent is None and run is not None):
        require(who, "read_all_inboxes")  # another agent's events, or every event
    require(who, "read_events")
    return EventQuery(topic=topic, run_id=run, agent=agent, limit=limit)


def _read(who: Caller, cursor: str | None, query: EventQuery, field: str = "cursor") -> EventPage:
    try:
        return who.store.events_after(cursor, query)
    except ValueError:
        raise InvalidInput(
            f"{field}: {cursor!r} is not an event cursor this server gave (pass a "
            "next_cursor or an SSE id, or 0 to read from the first event)",
            field=field,
        ) from None


@router.get("/events/list", operation_id="listEvents", response_model=EventList)
def list_events(
    who: Authenticated,
    topic: Topic = None,
    run: RunFilter = None,
    agent: AgentFilter = None,
    cursor: EventCursor = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Items per page.")] = 100,
) -> EventList:
    """Events in feed order after a cursor (from the first event without one)."""
    found = _read(who, cursor, _query(who, topic, run, agent, limit + 1))
    if len(found.events) > limit:
        return EventList(
            data=found.events[:limit], next_cursor=found.cursors[limit - 1], has_more=True
        )
    return EventList(data=found.events, next_cursor=found.cursor, has_more=False)


def _stream_start(
    who: Authenticated,
    topic: Topic = None,
    run: RunFilter = None,
    agent: AgentFilter = None,
    cursor: EventCursor = None,
    last_event_id: Annotated[str | None, Header(max_length=64)] = None,
) -> tuple[Caller, EventQuery, str]:
    """Everything checked before the stream starts (once it has, its status is 200):
    who may see what, and the cursor to start from."""
    query = _query(who, topic, run, agent, 100)
    start = last_event_id or cursor
    if start is None:
        return who, query, who.store.event_cursor_now()
    field = "Last-Event-ID" if last_event_id else "cursor"
    _read(who, start, EventQuery(limit=1), field)  # a cursor this server never gave: 422
    return who, query, start


@router.get(
    "/events",
    operation_id="streamEvents",
    response_class=EventSourceResponse,
    responses={200: {"description": "A text/event-stream of events (data: an EventInfo)"}},
)
async def stream(
    start: Annotated[tuple[Caller, EventQuery, str], Depends(_stream_start)],
) -> AsyncIterator[ServerSentEvent]:
    """Stream events as they happen. Each event's SSE id is a cursor: reconnecting
    with ``Last-Event-ID`` (or ``cursor``) resumes right after it, losing nothing.
    Without either, the stream starts with the events that happen from now on;
    ``cursor=0`` starts it from the first event."""
    who, query, cursor = start
    while True:
        found = await run_in_threadpool(_read, who, cursor, query)
        for event, event_cursor in zip(found.events, found.cursors, strict=True):
            yield ServerSentEvent(id=event_cursor, event=event.topic, data=event)
        cursor = found.cursor
        if len(found.events) < query.limit:
            await asyncio.sleep(POLL_SECONDS)
