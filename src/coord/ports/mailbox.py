"""The storage port of agent mailboxes: agents, topics, messages and deliveries.

A send stores the message once, numbers one delivery per recipient with the next
value of that mailbox's gap-free sequence, records the events, and enqueues the
handler task of every recipient that has one, all in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from coord.domain.messages import NewAgent, NewMessage, SendResult
from coord.domain.views import AgentInfo, EventInfo, InboxMessage, MessageInfo


@dataclass(frozen=True, slots=True)
class InboxQuery:
    """Which deliveries of one mailbox to list (expired ones never appear).

    Oldest first by sequence, or critical first with ``by_priority``; only sequence
    numbers above ``after_seq`` (how a follower asks for what is new)."""

    agent: str
    unread: bool = False
    by_priority: bool = False
    thread_id: str | None = None
    sender: str | None = None
    topic: str | None = None
    after_seq: int = 0
    limit: int = 50


class MailboxStore(Protocol):
    """Agents and their mailboxes in a coord database.

    Methods raise ``NotFound`` naming the unknown agent or message, ``Conflict`` for
    an agent that exists already, and ``IdempotencyConflict`` for a key reused with
    another message; when they raise, nothing was written."""

    def add_agent(self, agent: NewAgent, actor: str | None) -> AgentInfo:
        """Register an agent (or bring back a removed one, keeping its mailbox)."""
        ...

    def get_agent(self, name: str) -> AgentInfo | None:
        """Return an agent that has not been removed."""
        ...

    def list_agents(self) -> list[AgentInfo]:
        """Return every agent that has not been removed, by name."""
        ...

    def remove_agent(self, name: str, actor: str | None) -> bool:
        """Remove an agent and its subscriptions, keeping its messages; False if unknown."""
        ...

    def subscribe(self, agent: str, topic: str, actor: str | None) -> bool:
        """Subscribe an agent to a topic; False if it was subscribed already."""
        ...

    def unsubscribe(self, agent: str, topic: str, actor: str | None) -> bool:
        """End a subscription; False if there was none."""
        ...

    def send(self, messages: Sequence[NewMessage]) -> list[SendResult]:
        """Store and deliver messages, all or none (see the module docstring)."""
        ...

    def inbox(self, query: InboxQuery) -> list[InboxMessage]:
        """Return deliveries of one mailbox."""
        ...

    def take(self, agent: str, topic: str | None, by_priority: bool) -> InboxMessage | None:
        """Mark the first unread delivery of a mailbox read and return it (None if none).

        Two receivers of one mailbox never take the same message."""
        ...

    def mark_read(self, agent: str, message_id: str) -> InboxMessage | None:
        """Mark one delivery read (once) and return it; None if the agent has no such
        delivery."""
        ...

    def ack(self, agent: str, message_ids: Sequence[str]) -> list[str]:
        """Acknowledge deliveries; return the ids acknowledged by this call. An id the
        mailbox does not hold raises ``NotFound`` and acknowledges nothing."""
        ...

    def get_message(self, message_id: str) -> MessageInfo | None:
        """Return a message with the state of each of its deliveries."""
        ...

    def thread(self, thread_id: str) -> list[MessageInfo]:
        """Return the messages of a thread, oldest first."""
        ...

    def readable_messages(self, agent: str, message_ids: list[str]) -> set[str]:
        """Of ``message_ids``, those ``agent`` may read: it sent them, or one was
        delivered to it (directly, through a topic or to all; in any state)."""
        ...

    def readable_threads(self, agent: str, thread_ids: list[str]) -> set[str]:
        """Of ``thread_ids``, the threads holding a message ``agent`` may read."""
        ...

    def message_events(self, message_id: str) -> list[EventInfo]:
        """Return a message's events, oldest first."""
        ...

    def expire_messages(self) -> int:
        """Mark unacknowledged deliveries of messages past their TTL expired; count them."""
        ...

    def mailbox_sequences(self, agent: str) -> list[int]:
        """Every sequence number the mailbox holds, ascending (for audits and tests)."""
        ...
