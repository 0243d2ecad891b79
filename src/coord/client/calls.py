"""Each API operation as data: method, path, query, body, how to read the answer, and
whether it is safe to send again. The sync and the async client both run these, so
an operation is written once.

This module: the caller, agents, messages and events; :mod:`.work_calls` has tasks
and runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, TypeAdapter

from coord.client.models import EventPage
from coord.domain.messages import SendResult
from coord.domain.pages import Page
from coord.domain.views import AgentInfo, EventInfo, InboxMessage, MessageInfo
from coord.operations.queries import Draft
from coord.operations.results import Me, Subscription

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
D = TypeVar("D")

MAX_PAGE = 500  # the API's largest page


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One request, and how to read its answer (``None`` for an empty one)."""

    method: str
    path: str
    parse: Callable[[Any], T]
    params: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    # Safe to send again after a 429/503: reads, and writes that change nothing the
    # second time (an idempotency key, a PUT, a read marking read once).
    retry: bool = False
    # The answer is bytes as they are (an artifact), not JSON: ``parse`` gets them.
    raw: bool = False


Pager = Callable[[int, "str | None"], Call[Page[T]]]  # (page size, cursor) -> the call


def pager(path: str, cls: type[M], **filters: Any) -> Pager[M]:
    """Pages of ``GET path`` (with these filters), items read as ``cls``."""
    fixed = query(**filters)
    parse = page_of(cls)

    def page(size: int, cursor: str | None) -> Call[Page[M]]:
        return Call("GET", path, parse, {**fixed, **query(limit=size, cursor=cursor)}, retry=True)

    return page


def model(cls: type[M]) -> Callable[[Any], M]:
    """Read an answer as one ``cls``."""
    return cls.model_validate


def models(cls: type[M]) -> Callable[[Any], list[M]]:
    """Read an answer as a list of ``cls``."""
    return TypeAdapter(list[cls]).validate_python  # type: ignore[valid-type]


def values(cls: type[D]) -> Callable[[Any], D]:
    """Read an answer as one ``cls`` (a dataclass of the domain)."""
    return TypeAdapter(cls).validate_python


def page_of(cls: type[M]) -> Callable[[Any], Page[M]]:
    """Read an answer as one page of ``cls``."""
    return Page[cls].model_validate  # type: ignore[valid-type]


def seg(value: str) -> str:
    """A path segment, escaped (a name never changes the path it is put in)."""
    return quote(value, safe="")


def query(**values: Any) -> dict[str, Any]:
    """Query parameters without the unset ones."""
    return {k: v for k, v in values.items() if v is not None and v is not False}


# -- the caller and agents -----------------------------------------------------------
def whoami() -> Call[Me]:
    """``GET /me``."""
    return Call("GET", "/me", model(Me), retry=True)


def agents_pager() -> Pager[AgentInfo]:
    """Pages of ``GET /agents``, by name."""
    return pager("/agents", AgentInfo)


def agent(name: str) -> Call[AgentInfo]:
    """``GET /agents/{name}``."""
    return Call("GET", f"/agents/{seg(name)}", model(AgentInfo), retry=True)


def subscription(agent: str, topic: str, *, on: bool) -> Call[Subscription]:
    """``PUT`` (subscribe) or ``DELETE`` (unsubscribe) ``/agents/{a}/topics/{t}``."""
    method = "PUT" if on else "DELETE"
    path = f"/agents/{seg(agent)}/topics/{seg(topic)}"
    return Call(method, path, model(Subscription), retry=True)


def create_agent(
    name: str, description: str | None, human: bool, domains: Sequence[str]
) -> Call[AgentInfo]:
    """``POST /agents``."""
    body = {"name": name, "human": human, "domains": list(domains)}
    body |= query(description=description)
    return Call("POST", "/agents", model(AgentInfo), body=body)


def remove_agent(name: str) -> Call[None]:
    """``DELETE /agents/{name}``: marking removed twice ends the same."""
    return Call("DELETE", f"/agents/{seg(name)}", lambda _data: None, retry=True)


# -- messages ------------------------------------------------------------------------
def draft_body(draft: Draft) -> dict[str, Any]:
    """The request body of one message (unset options left out)."""
    ttl = draft.ttl.total_seconds() if isinstance(draft.ttl, timedelta) else draft.ttl
    data = {
        "to": draft.to,
        "subject": draft.subject,
        "body": draft.body,
        "priority": draft.priority,
        "thread_id": draft.thread_id,
        "reply_to": draft.reply_to,
        "ttl": ttl,
        "key": draft.key,
        "sender": draft.sender,
    }
    return {k: v for k, v in data.items() if v is not None or k == "body"}


def send(draft: Draft) -> Call[SendResult]:
    """``POST /messages``; a ``sender`` is only ever checked against the caller."""
    parse = values(SendResult)
    return Call("POST", "/messages", parse, body=draft_body(draft), retry=draft.key is not None)


def send_many(drafts: Sequence[Draft]) -> Call[list[SendResult]]:
    """``POST /messages/batch``: all or none."""
    keyed = all(d.key is not None for d in drafts)
    body = {"messages": [draft_body(d) for d in drafts]}
    return Call("POST", "/messages/batch", values(list[SendResult]), body=body, retry=keyed)


def inbox_pager(
    agent: str,
    *,
    unread: bool,
    by_priority: bool,
    thread_id: str | None,
    sender: str | None,
    topic: str | None,
    after_seq: int | None = None,
) -> Pager[InboxMessage]:
    """Pages of ``GET /agents/{agent}/inbox`` with these filters."""
    filters = {"from": sender}
    return pager(
        f"/agents/{seg(agent)}/inbox",
        InboxMessage,
        unread=unread,
        by_priority=by_priority,
        thread_id=thread_id,
        topic=topic,
        after_seq=after_seq,
        **filters,
    )


def read(agent: str, message_id: str) -> Call[InboxMessage]:
    """``POST /agents/{agent}/inbox/{id}/read``."""
    path = f"/agents/{seg(agent)}/inbox/{seg(message_id)}/read"
    return Call("POST", path, model(InboxMessage), retry=True)


def take(agent: str, topic: str | None, by_priority: bool) -> Call[InboxMessage | None]:
    """``POST /agents/{agent}/inbox/next``: the next unread message, marked read."""

    def parse(data: Any) -> InboxMessage | None:
        return None if data is None else InboxMessage.model_validate(data)

    params = query(topic=topic, by_priority=by_priority)
    # Not retried: a lost answer may have taken a message; the caller asks again.
    return Call("POST", f"/agents/{seg(agent)}/inbox/next", parse, params)


def ack(agent: str, message_ids: Sequence[str]) -> Call[list[str]]:
    """``POST /agents/{agent}/inbox/ack``; the answer: ids acknowledged by this call."""

    def parse(data: Any) -> list[str]:
        return [str(i) for i in data["acked"]]

    body = {"ids": list(message_ids)}
    return Call("POST", f"/agents/{seg(agent)}/inbox/ack", parse, body=body, retry=True)


def message(message_id: str) -> Call[MessageInfo]:
    """``GET /messages/{id}``."""
    return Call("GET", f"/messages/{seg(message_id)}", model(MessageInfo), retry=True)


def message_events(message_id: str) -> Pager[EventInfo]:
    """Pages of ``GET /messages/{id}/events``, oldest first."""
    return pager(f"/messages/{seg(message_id)}/events", EventInfo)


def thread(thread_id: str) -> Pager[MessageInfo]:
    """Pages of ``GET /threads/{id}``, oldest first."""
    return pager(f"/threads/{seg(thread_id)}", MessageInfo)


# -- events --------------------------------------------------------------------------
def event_filters(
    topic: str | None = None, run: str | None = None, agent: str | None = None
) -> dict[str, Any]:
    """The filters of the event feed (list and stream)."""
    return query(topic=topic, run=run, agent=agent)


def event_page(filters: dict[str, Any], cursor: str | None, limit: int) -> Call[EventPage]:
    """``GET /events/list``: events after ``cursor`` (from the first without)."""
    params = {**filters, **query(cursor=cursor, limit=limit)}
    return Call("GET", "/events/list", model(EventPage), params, retry=True)


STREAM_PATH = "/events"
