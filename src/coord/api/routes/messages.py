"""Messages: send (always as the caller), inboxes, read, ack, one message, threads."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from coord.api import pages
from coord.api.deps import Authenticated
from coord.api.idempotent import IdempotencyKey, respond, the_key
from coord.api.models import AgentPath, Body, Duration, IdPath, Key
from coord.domain.messages import SendResult
from coord.domain.views import EventInfo, InboxMessage, MessageInfo
from coord.operations.queries import Draft, InboxQuery

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


class AckBody(Body):
    """Message ids to acknowledge, all or none."""

    ids: list[Annotated[str, Field(max_length=64)]] = Field(min_length=1, max_length=MAX_BATCH)


class Acked(BaseModel):
    """Ids newly acknowledged by this call."""

    acked: list[str]


def _draft(body: SendBody, key: str | None) -> Draft:
    return Draft(
        to=body.to,
        subject=body.subject,
        body=body.body,
        priority=body.priority,
        thread_id=body.thread_id,
        reply_to=body.reply_to,
        ttl=body.ttl,
        key=key,
        sender=body.sender,
    )


@router.post(
    "/messages",
    operation_id="sendMessage",
    response_model=SendResult,
    status_code=201,
    responses={200: {"model": SendResult, "description": "Sent before under the same key"}},
)
def send(
    who: Authenticated, body: SendBody, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Send a message as the caller (201; 200 when its key found the first one)."""

    def act() -> tuple[int, Any]:
        result = who.ops.mail.send_many([_draft(body, the_key(idempotency_key, body.key))])[0]
        return (201 if result.created else 200), result

    return respond(who, "sendMessage", idempotency_key, body, act)


@router.post(
    "/messages/batch",
    operation_id="sendMessages",
    response_model=list[SendResult],
    status_code=201,
)
def send_batch(
    who: Authenticated, body: SendBatch, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Send many messages as the caller in one transaction, all or none."""

    def act() -> tuple[int, Any]:
        return 201, who.ops.mail.send_many([_draft(m, m.key) for m in body.messages])

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
    after_seq: Annotated[
        int | None, Query(description="Only messages with a sequence number above this.")
    ] = None,
    limit: pages.Limit = 50,
    cursor: pages.Cursor = None,
) -> pages.Page[InboxMessage]:
    """An agent's inbox: its own, or any with read_all_inboxes. Oldest first (paged
    by sequence number), or critical first with by_priority; only sequence numbers
    above after_seq when given."""
    query = InboxQuery(unread, by_priority, thread_id, sender, topic, limit, after_seq)
    return who.ops.mail.inbox_page(name, query, cursor)


@router.post(
    "/agents/{name}/inbox/{message_id}/read",
    operation_id="readMessage",
    response_model=InboxMessage,
)
def read(who: Authenticated, name: AgentPath, message_id: IdPath) -> InboxMessage:
    """One message of an inbox, marked read."""
    return who.ops.mail.read(message_id, name)


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
    found = who.ops.mail.take(name, topic=topic, by_priority=by_priority)
    return Response(status_code=204) if found is None else found


@router.post("/agents/{name}/inbox/ack", operation_id="ackMessages", response_model=Acked)
def ack(who: Authenticated, name: AgentPath, body: AckBody) -> Acked:
    """Acknowledge messages of an inbox, all or none."""
    return Acked(acked=who.ops.mail.ack(body.ids, name))


@router.get("/messages/{message_id}", operation_id="getMessage", response_model=MessageInfo)
def get_message(who: Authenticated, message_id: IdPath) -> MessageInfo:
    """A message with each recipient's state: for its sender, its recipients, or any
    caller with read_all_inboxes. Anyone else's answers 404, as an unknown id does."""
    return who.ops.mail.message(message_id)


@router.get(
    "/messages/{message_id}/events",
    operation_id="messageEvents",
    response_model=pages.Page[EventInfo],
)
def message_events(
    who: Authenticated, message_id: IdPath, limit: pages.Limit = 100, cursor: pages.Cursor = None
) -> pages.Page[EventInfo]:
    """A message's events, oldest first (whose message: as for getMessage)."""
    return pages.of_history(who.ops.mail.message_events(message_id), limit, cursor)


@router.get(
    "/threads/{thread_id}", operation_id="getThread", response_model=pages.Page[MessageInfo]
)
def thread(
    who: Authenticated, thread_id: IdPath, limit: pages.Limit = 100, cursor: pages.Cursor = None
) -> pages.Page[MessageInfo]:
    """The messages of a thread the caller sent or received (all of them with
    read_all_inboxes), oldest first."""
    return pages.of_list(who.ops.mail.thread(thread_id), limit, cursor)
