"""``coord inbox --follow`` through a server: the deliveries to the agent arrive on
the event stream (no polling), and each is shown as its inbox entry, filtered as
the listing is."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from coord.cli import surface
from coord.cli.output import note
from coord.domain.messages import DeliveryState
from coord.domain.views import InboxMessage, MessageInfo
from coord.errors import NotFound
from coord.operations.queries import InboxQuery

if TYPE_CHECKING:
    # Only for the annotations: the client (httpx) is imported when a command goes
    # to a server, not by every command that could.
    from coord.client import Client

Show = Callable[[list[InboxMessage]], None]


class _Stopped(BaseException):
    """Raised by Ctrl-C or SIGTERM into the blocking read of the stream."""


def follow(
    agent: str,
    *,
    by_priority: bool,
    limit: int,
    filters: dict[str, Any],
    started: Callable[[], None],
    show: Show,
) -> None:
    """List ``agent``'s inbox, then show each new delivery until a signal stops it."""
    # Connected before listing: a delivery meanwhile is listed, streamed, or both
    # (shown once: only sequence numbers above the last shown are new).
    with (
        surface.client() as server,
        _until_signalled(),
        server.events(agent=agent, topic="message.delivered") as stream,
    ):
        query = InboxQuery(
            unread=filters["unread"],
            by_priority=by_priority,
            thread_id=filters["thread"],
            sender=filters["sender"],
            topic=filters["topic"],
            limit=limit,
        )
        found = server.mail.inbox(agent, query)
        started()
        show(found)
        note(f"following {agent}'s mailbox through the server: Ctrl-C to stop")
        seen = max((m.seq for m in found), default=0)
        for event in stream:
            data = event.data or {}
            seq = data.get("seq")
            if data.get("agent") != agent or not isinstance(seq, int) or seq <= seen:
                continue
            entry = _entry(server, event.message_id, agent)
            seen = seq
            if entry is not None and _matches(entry, filters):
                show([entry])


def _entry(server: Client, message_id: str | None, agent: str) -> InboxMessage | None:
    """The inbox entry of a delivery (None if it is gone or expired meanwhile)."""
    if message_id is None:
        return None
    try:
        message = server.mail.message(message_id)
    except NotFound:
        return None
    return inbox_entry(message, agent)


def inbox_entry(message: MessageInfo, agent: str) -> InboxMessage | None:
    """A message as ``agent`` sees it in its inbox (None: not delivered to it)."""
    for d in message.deliveries:
        if d.agent == agent and d.state is not DeliveryState.EXPIRED:
            return InboxMessage(
                id=message.id,
                agent=agent,
                seq=d.seq,
                state=d.state,
                sender=message.sender,
                to=message.to,
                subject=message.subject,
                body=message.body,
                priority=message.priority,
                thread_id=message.thread_id,
                reply_to=message.reply_to,
                created_at=message.created_at,
                expires_at=message.expires_at,
                delivered_at=d.delivered_at,
                read_at=d.read_at,
                acked_at=d.acked_at,
            )
    return None


def _matches(entry: InboxMessage, filters: dict[str, Any]) -> bool:
    """The listing's filters (``coord inbox --unread --thread --from --topic``)."""
    if filters["unread"] and entry.state is not DeliveryState.DELIVERED:
        return False
    if filters["thread"] is not None and entry.thread_id != filters["thread"]:
        return False
    if filters["sender"] is not None and entry.sender != filters["sender"]:
        return False
    return filters["topic"] is None or entry.to == f"topic:{filters['topic']}"


@contextmanager
def _until_signalled() -> Iterator[None]:
    """Run the block until Ctrl-C (SIGINT) or SIGTERM, which end it quietly."""

    def stop(*_: object) -> None:
        raise _Stopped

    watched = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, stop) for sig in watched}
    try:
        yield
    except _Stopped:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
