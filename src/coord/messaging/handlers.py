"""Agent handlers: a function the worker runs for every message delivered to an agent.

Each delivery to an agent with a handler enqueues one task (named ``agent:NAME``,
keyed by the message id, at the message's priority) in the sending transaction, so
the durable queue gives handlers their retries, leases, dead letters and claim order
(critical first). The task marks the message read when it starts and acknowledges it
when the handler returns; a message already acknowledged is not handled again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from coord.domain.messages import DeliveryState, SendResult
from coord.domain.views import InboxMessage
from coord.messaging.plugins import MessageReceipt, ReceiveHook, chain
from coord.runtime.context import Context

DurationLike = str | float | timedelta


class MailboxAccess(Protocol):
    """What a handler needs of its App's mailbox."""

    def read(self, agent: str, message_id: str) -> InboxMessage:
        """Mark a message of ``agent`` read and return it."""
        ...

    def ack(self, agent: str, message_ids: list[str]) -> list[str]:
        """Acknowledge messages of ``agent``."""
        ...

    async def send_async(
        self,
        sender: str,
        to: str,
        subject: str,
        body: Any = None,
        *,
        priority: str | int = "normal",
        thread: str | None = None,
        reply_to: str | None = None,
        key: str | None = None,
        ttl: DurationLike | None = None,
    ) -> SendResult:
        """Send one message."""
        ...


class AgentContext:
    """What an agent handler sees: its message, ways to answer, and (through
    attribute access) everything of the task :class:`~coord.Context`: ``heartbeat``,
    ``charge``, ``step``, ``checkpoint``, ``attempt``, ``log``..."""

    def __init__(
        self, agent: str, message: InboxMessage, task: Context, mailbox: MailboxAccess
    ) -> None:
        self.agent = agent
        self.message = message
        self.task = task
        self._mailbox = mailbox
        self._sent = 0

    def _next_key(self, kind: str) -> str:
        # The n-th send of a handler run gets the same key on every attempt, so a
        # retried handler that sends the same messages again does not duplicate them.
        self._sent += 1
        return f"{kind}:{self.agent}:{self.message.id}:{self._sent}"

    def __getattr__(self, name: str) -> Any:
        return getattr(self.task, name)

    async def reply(
        self,
        subject: str | None = None,
        body: Any = None,
        *,
        priority: str | int | None = None,
        key: str | None = None,
        ttl: DurationLike | None = None,
    ) -> SendResult:
        """Answer the message's sender in its thread (subject ``Re: ...`` by default).

        Without ``key`` a send is keyed by the message and its place among this run's
        sends, so a retried handler does not send the same message twice."""
        m = self.message
        return await self._mailbox.send_async(
            self.agent,
            m.sender,
            subject or (m.subject if m.subject.startswith("Re: ") else f"Re: {m.subject}"),
            body,
            priority=priority if priority is not None else m.priority,
            reply_to=m.id,
            key=key or self._next_key("reply"),
            ttl=ttl,
        )

    async def send(
        self,
        to: str,
        subject: str,
        body: Any = None,
        *,
        priority: str | int = "normal",
        thread: str | None = None,
        reply_to: str | None = None,
        key: str | None = None,
        ttl: DurationLike | None = None,
    ) -> SendResult:
        """Send a message as this agent (keyed like :meth:`reply` unless ``key``)."""
        return await self._mailbox.send_async(
            self.agent,
            to,
            subject,
            body,
            priority=priority,
            thread=thread,
            reply_to=reply_to,
            key=key or self._next_key("send"),
            ttl=ttl,
        )


AgentHandler = Callable[[AgentContext, InboxMessage], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class AgentDefinition:
    """A registered agent handler and the agent it serves."""

    agent: str
    fn: AgentHandler
    role: str | None = None
    domains: tuple[str, ...] = ()
    description: str | None = None


def handler_task_function(
    definition: AgentDefinition,
    mailbox: Callable[[], MailboxAccess],
    hooks: list[ReceiveHook],
) -> Callable[[Context, str], Awaitable[Any]]:
    """The task function that runs ``definition`` for one message id."""
    agent = definition.agent

    async def run_agent_handler(ctx: Context, message_id: str) -> Any:
        access = mailbox()
        message = await asyncio.to_thread(access.read, agent, message_id)
        if message.state in (DeliveryState.ACKED, DeliveryState.EXPIRED):
            ctx.log.info("message %s is %s already: not handled", message_id, message.state)
            return {"skipped": message.state.value}

        async def call_handler(receipt: MessageReceipt) -> Any:
            agent_ctx = AgentContext(agent, receipt.message, ctx, access)
            return await definition.fn(agent_ctx, receipt.message)

        result = await chain(hooks, call_handler)(MessageReceipt(agent, message, "handler"))
        await asyncio.to_thread(access.ack, agent, [message_id])
        return result

    run_agent_handler.__name__ = f"agent_{agent}"
    return run_agent_handler
