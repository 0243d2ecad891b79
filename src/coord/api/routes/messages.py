"""Messages: send (always as the caller), inboxes, read, ack, one message, threads."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from coord.api import pages
from coord.api.deps import Authenticated, Caller, require, require_self_or
from coord.api.idempotent import IdempotencyKey, respond, the_key
from coord.api.models import AgentPath, Body, Duration, IdPath, Key
from coord.domain import bounds
from coord.domain.messages import SendResult
from coord.domain.views import EventInfo, InboxMessage, MessageInfo
from coord.errors import Forbidden
from coord.services import messages as service

router = APIRouter(tags=["messages"])

MAX_BATCH = 1000


class SendBody(Body):
    """A message from the caller. ``sender`` may be given only as the caller itself:
    naming another agent is refused (403), never honoured."""

    to: str = Field(min_length=1, max_length=200, description="AGENT, topic:NAME or all")
    subject: str = Field(min_length=1, max_length=500)
    body: Any = None
    priority: str | int = Field("normal", description="low, normal, high, critical or 0-3")
    thread_id: str | None = Field(None, max_length=64)
    reply_to: str | None = Field(None, max_length=64)
    ttl: Duration | None = None
    key: Key | None = Field(None, description="Idempotency key of the message (per sender).")
    sender: str | None = Field(None, max_length=64, description="Omit: it is the caller.")


class SendBatch(Body):
    """Messages stored and delivered together, all or none."""

    messages: list[SendBody] = Field(min_length=1, max_length=MAX_BATCH)


class Sent(BaseModel):
    """What a send did."""

    id: str
    created: bool
    thread_id: str
    recipients: list[str]


class AckBody(Body):
    """Message ids to acknowledge, all or none."""

    ids: list[Annotated[str, Field(max_length=64)]] = Field(min_length=1, max_length=MAX_BATCH)


class Acked(BaseModel):
    """Ids newly acknowledged by this call."""

    acked: list[str]


def _sent(result: SendResult) -> Sent:
    return Sent(
        id=result.id,
        created=result.created,
        thread_id=result.thread_id,
        recipients=[r.agent for r in result.recipients],
    )


def _outgoing(who: Caller, body: SendBody, key: str | None) -> service.Outgoing:
    if body.sender is not None and body.sender != who.agent:
        raise Forbidden(
            f"sender: you are {who.agent!r}; a message is always sent as the caller, "
            f"never as {body.sender!r}",
            field="sender",
        )
    if body.to.startswith("topic:"):
        topic = body.to.removeprefix("topic:")
        require(who, "send_message", domain=who.server.roles.required_domain("topic", topic))
    return service.Outgoing(
        sender=who.agent,
        to=body.to,
        subject=body.subject,
        body=body.body,
        priority=body.priority,
        thread=body.thread_id,
        reply_to=body.reply_to,
        key=the_key(key, body.key),
        ttl=body.ttl,
    )


@router.post(
    "/messages",
    operation_id="sendMessage",
    response_model=Sent,
    status_code=201,
    responses={200: {"model": Sent, "description": "Sent before under the same key"}},
)
def send(
    who: Authenticated, body: SendBody, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Send a message as the caller (201; 200 when its key found the first one)."""
    require(who, "send_message")
    limit = who.server.settings.max_message_bytes

    def act() -> tuple[int, Any]:
        message = service.build_message(_outgoing(who, body, idempotency_key), max_bytes=limit)
        result = service.send(who.store, [message])[0]
        return (201 if result.created else 200), _sent(result)

    return respond(who, "sendMessage", idempotency_key, body, act)


@router.post(
    "/messages/batch",
    operation_id="sendMessages",
    response_model=list[Sent],
    status_code=201,
)
def send_batch(
    who: Authenticated, body: SendBatch, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Send many messages as the caller in one transaction, all or none."""
    require(who, "send_message")
    limit = who.server.settings.max_message_bytes

    def act() -> tuple[int, Any]:
        messages = [
            service.build_message(_outgoing(who, m, None), max_bytes=limit) for m in body.messages
        ]
        return 201, [_sent(r) for r in service.send(who.store, messages)]

    return respond(who, "sendMessages", idempotency_key, body, act)


@router.get(
    "/agents/{name}/inbox",
    operation_id="listInbox",
    response_model=pages.Page[InboxMessage],
)
def inbox(
    who: Authenticated,
    name: AgentPath,
    unread: bool = False,
    by_priority: bool = False,
    thread_id: Annotated[str | None, Query(max_length=64)] = None,
    sender: Annotated[str | None, Query(max_length=64, alias="from")] = None,
    topic: Annotated[str | None, Query(max_length=200)] = None,
    limit: pages.Limit = 50,
    cursor: pages.Cursor = None,
) -> pages.Page[InboxMessage]:
    """An agent's inbox: its own, or any with read_all_inboxes. Oldest first (paged
    by sequence number), or critical first with by_priority."""
    require_self_or(who, name, "read_own_inbox", "read_all_inboxes")
    options: dict[str, Any] = {
        "unread": unread,
        "by_priority": by_priority,
        "thread": thread_id,
        "sender": sender,
        "topic": topic,
    }
    if by_priority:  # the order is not by sequence: page by position (as deep as a list goes)
        offset = pages.decode_position(cursor, service.MAX_INBOX_LIMIT - limit - 1)
        found = service.inbox(who.store, name, limit=offset + limit + 1, **options)[offset:]
        return pages.page(found, limit, lambda _m: offset + limit)
    after = pages.decode_position(cursor, bounds.MAX_ID)
    messages = service.inbox(who.store, name, after_seq=after, limit=limit + 1, **options)
    return pages.page(messages, limit, lambda m: m.seq)


@router.post(
    "/agents/{name}/inbox/{message_id}/read",
    operation_id="readMessage",
    response_model=InboxMessage,
)
def read(who: Authenticated, name: AgentPath, message_id: IdPath) -> InboxMessage:
    """One message of an inbox, marked read."""
    require_self_or(who, name, "read_own_inbox", "read_all_inboxes")
    return service.read(who.store, name, message_id)


@router.post(
    "/agents/{name}/inbox/next",
    operation_id="takeMessage",
    response_model=InboxMessage,
    responses={204: {"description": "Nothing unread"}},
)
def take(
    who: Authenticated,
    name: AgentPath,
    topic: Annotated[str | None, Query(max_length=200)] = None,
    by_priority: bool = False,
) -> Response | InboxMessage:
    """The next unread message of an inbox (of ``topic`` only), marked read; 204 when
    nothing is unread. Two callers never get the same message, so receivers can
    compete for one inbox (what ``Client.receive`` does after each wake-up)."""
    require_self_or(who, name, "read_own_inbox", "read_all_inboxes")
    found = service.take(who.store, name, topic=topic, by_priority=by_priority)
    return Response(status_code=204) if found is None else found


@router.post("/agents/{name}/inbox/ack", operation_id="ackMessages", response_model=Acked)
def ack(who: Authenticated, name: AgentPath, body: AckBody) -> Acked:
    """Acknowledge messages of an inbox, all or none."""
    require_self_or(who, name, "read_own_inbox", "read_all_inboxes")
    return Acked(acked=service.ack(who.store, name, body.ids))


@router.get("/messages/{message_id}", operation_id="getMessage", response_model=MessageInfo)
def get_message(who: Authenticated, message_id: IdPath) -> MessageInfo:
    """A message with each recipient's state: for its sender, its recipients, or any
    caller with read_all_inboxes. Anyone else's answers 404, as an unknown id does."""
    return service.get_message(who.store, message_id, reader=_reader(who))


@router.get(
    "/messages/{message_id}/events",
    operation_id="messageEvents",
    response_model=pages.Page[EventInfo],
)
def message_events(
    who: Authenticated, message_id: IdPath, limit: pages.Limit = 100, cursor: pages.Cursor = None
) -> pages.Page[EventInfo]:
    """A message's events, oldest first (whose message: as for getMessage)."""
    found = service.message_events(who.store, message_id, reader=_reader(who))
    return pages.of_history(found, limit, cursor)


@router.get(
    "/threads/{thread_id}", operation_id="getThread", response_model=pages.Page[MessageInfo]
)
def thread(
    who: Authenticated, thread_id: IdPath, limit: pages.Limit = 100, cursor: pages.Cursor = None
) -> pages.Page[MessageInfo]:
    """The messages of a thread the caller sent or received (all of them with
    read_all_inboxes), oldest first."""
    found = service.thread(who.store, thread_id, reader=_reader(who))
    return pages.of_list(found, limit, cursor)


def _reader(who: Caller) -> str | None:
    """Whose messages the caller may see: None for all of them (read_all_inboxes),
    else its own. Decided before any lookup, so a refusal tells nothing of an id."""
    if who.principal.can("read_all_inboxes"):
        return None
    require(who, "read_own_inbox")
    return who.agent
