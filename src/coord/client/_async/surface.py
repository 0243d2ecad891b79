"""The surface over HTTP: the operations of :mod:`coord.operations`, with the same
arguments, answers and errors as the local implementation, by calling a coord
server as the agent of an API key. What the server decides (who acts, the size
limits, who may see what) is left to it."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from coord.client import calls, streams
from coord.client import work_calls as work
from coord.client._async.runs import AsyncRemoteRuns
from coord.client.transport import AsyncTransport
from coord.domain.messages import SendResult
from coord.domain.pages import Page
from coord.domain.views import (
    AgentInfo,
    DeadLetterGroup,
    EventInfo,
    InboxMessage,
    MessageInfo,
    QueueStats,
    TaskInfo,
)
from coord.errors import InvalidInput
from coord.operations._async.listing import collect, page_size
from coord.operations._async.protocols import StepsToReset
from coord.operations.queries import Draft, EnqueueOptions, InboxQuery, TaskFilter
from coord.operations.results import Enqueued, Me, Subscription


class AsyncCaller:
    """The key's agent, asked of the server once, for operations that default to it."""

    def __init__(self, transport: AsyncTransport) -> None:
        self._t = transport
        self._agent: str | None = None

    async def me(self) -> Me:
        """The caller, as the server knows it."""
        found = await self._t.do(calls.whoami())
        self._agent = found.agent
        return found

    async def agent(self, given: str | None) -> str:
        """``given``, or the caller's own agent."""
        if given is not None:
            return given
        if self._agent is None:
            await self.me()
        assert self._agent is not None
        return self._agent


class AsyncRemoteAgents:
    """Agents over HTTP."""

    def __init__(self, transport: AsyncTransport, caller: AsyncCaller) -> None:
        self._t, self._caller = transport, caller

    async def me(self) -> Me:
        """The caller."""
        return await self._caller.me()

    async def page(self, limit: int = 50, cursor: str | None = None) -> Page[AgentInfo]:
        """One page of the agents, by name."""
        return await self._t.do(calls.agents_pager()(page_size(limit), cursor))

    async def all(self) -> list[AgentInfo]:
        """Every agent, by name."""
        return await collect(self.page, None)

    async def get(self, name: str) -> AgentInfo:
        """One agent."""
        return await self._t.do(calls.agent(name))

    async def add(
        self,
        name: str,
        *,
        description: str | None = None,
        human: bool = False,
        domains: Sequence[str] = (),
        role: str | None = None,
    ) -> AgentInfo:
        """Register an agent (its role is set where the database is, never over HTTP)."""
        if role is not None:
            raise InvalidInput(
                "role: an agent's role is set by an operator where the database is "
                "(coord agent add --role), never through the API",
                field="role",
            )
        return await self._t.do(calls.create_agent(name, description, human, domains))

    async def remove(self, name: str) -> None:
        """Mark an agent removed."""
        await self._t.do(calls.remove_agent(name))

    async def subscribe(self, topic: str, agent: str | None = None) -> Subscription:
        """Subscribe an agent (default: the caller) to ``topic``."""
        name = await self._caller.agent(agent)
        return await self._t.do(calls.subscription(name, topic, on=True))

    async def unsubscribe(self, topic: str, agent: str | None = None) -> Subscription:
        """End a subscription."""
        name = await self._caller.agent(agent)
        return await self._t.do(calls.subscription(name, topic, on=False))


class AsyncRemoteMail:
    """Messages over HTTP."""

    def __init__(self, transport: AsyncTransport, caller: AsyncCaller) -> None:
        self._t, self._caller = transport, caller

    async def send(
        self,
        to: str,
        subject: str,
        body: Any = None,
        *,
        priority: str | int = "normal",
        thread_id: str | None = None,
        reply_to: str | None = None,
        ttl: str | float | None = None,
        key: str | None = None,
        sender: str | None = None,
    ) -> SendResult:
        """Send one message as the caller."""
        draft = Draft(to, subject, body, priority, thread_id, reply_to, ttl, key, sender)
        return await self._t.do(calls.send(draft))

    async def send_many(self, drafts: Sequence[Draft]) -> list[SendResult]:
        """Send a batch in one transaction, all or none."""
        return await self._t.do(calls.send_many(drafts))

    async def inbox_page(
        self, agent: str | None = None, query: InboxQuery | None = None, cursor: str | None = None
    ) -> Page[InboxMessage]:
        """One page of an inbox."""
        q = query or InboxQuery()
        name = await self._caller.agent(agent)
        pages = calls.inbox_pager(
            name,
            unread=q.unread,
            by_priority=q.by_priority,
            thread_id=q.thread_id,
            sender=q.sender,
            topic=q.topic,
            after_seq=q.after_seq,
        )
        return await self._t.do(pages(page_size(q.limit), cursor))

    async def inbox(
        self, agent: str | None = None, query: InboxQuery | None = None
    ) -> list[InboxMessage]:
        """An inbox, as ``query`` says."""
        q = query or InboxQuery()
        return await collect(
            lambda size, cursor: self.inbox_page(agent, dataclasses.replace(q, limit=size), cursor),
            q.limit,
        )

    async def read(self, message_id: str, agent: str | None = None) -> InboxMessage:
        """One message, marked read."""
        return await self._t.do(calls.read(await self._caller.agent(agent), message_id))

    async def take(
        self, agent: str | None = None, *, topic: str | None = None, by_priority: bool = False
    ) -> InboxMessage | None:
        """The next unread message, marked read, without waiting."""
        name = await self._caller.agent(agent)
        return await self._t.do(calls.take(name, topic, by_priority))

    async def receive(
        self,
        agent: str | None = None,
        *,
        topic: str | None = None,
        timeout: float | None = None,
        by_priority: bool = False,
    ) -> InboxMessage | None:
        """Wait for the next unread message: woken by the server's event stream."""
        name = await self._caller.agent(agent)

        async def take() -> InboxMessage | None:
            return await self.take(name, topic=topic, by_priority=by_priority)

        return await streams.areceive(self._t, name, take, timeout)

    async def ack(self, message_ids: str | Sequence[str], agent: str | None = None) -> list[str]:
        """Acknowledge messages, all or none."""
        ids = [message_ids] if isinstance(message_ids, str) else list(message_ids)
        return await self._t.do(calls.ack(await self._caller.agent(agent), ids))

    async def message(self, message_id: str) -> MessageInfo:
        """A message with each recipient's delivery state."""
        return await self._t.do(calls.message(message_id))

    async def message_events(self, message_id: str) -> list[EventInfo]:
        """A message's events."""
        return await self._t.collect(calls.message_events(message_id), None)

    async def thread(self, thread_id: str) -> list[MessageInfo]:
        """A thread's messages."""
        return await self._t.collect(calls.thread(thread_id), None)


class AsyncRemoteTasks:
    """Tasks over HTTP."""

    def __init__(self, transport: AsyncTransport) -> None:
        self._t = transport

    async def enqueue(
        self,
        task: str,
        payload: dict[str, Any] | None = None,
        *,
        key: str | None = None,
        options: EnqueueOptions | None = None,
    ) -> Enqueued:
        """Enqueue one task."""
        return await self._t.do(work.enqueue(task, payload, key, options or EnqueueOptions()))

    async def enqueue_many(
        self,
        task: str,
        payloads: Sequence[dict[str, Any]],
        *,
        keys: Sequence[str | None] | None = None,
        options: EnqueueOptions | None = None,
    ) -> list[Enqueued]:
        """Enqueue a batch, all or none."""
        call = work.enqueue_many(task, payloads, keys, options or EnqueueOptions())
        return await self._t.do(call)

    async def page(
        self, query: TaskFilter | None = None, cursor: str | None = None
    ) -> Page[TaskInfo]:
        """One page of the tasks, newest first."""
        q = query or TaskFilter()
        return await self._t.do(work.tasks_pager(q)(page_size(q.limit), cursor))

    async def find(self, query: TaskFilter | None = None) -> list[TaskInfo]:
        """Tasks, newest first."""
        q = query or TaskFilter()
        return await collect(
            lambda size, cursor: self.page(dataclasses.replace(q, limit=size), cursor), q.limit
        )

    async def get(self, task_id: str) -> TaskInfo:
        """One task."""
        return await self._t.do(work.task(task_id))

    async def events(self, task_id: str) -> list[EventInfo]:
        """A task's history."""
        return await self._t.collect(work.task_events(task_id), None)

    async def cancel(self, task_id: str) -> TaskInfo:
        """Cancel a task."""
        return await self._t.do(work.cancel_task(task_id))

    async def retry(self, task_id: str, *, reset_steps: StepsToReset = False) -> TaskInfo:
        """Retry a dead, failed or cancelled task now."""
        return await self._t.do(work.retry_task(task_id, reset_steps))


class AsyncRemoteQueues:
    """Queues over HTTP."""

    def __init__(self, transport: AsyncTransport) -> None:
        self._t = transport

    async def stats(self) -> list[QueueStats]:
        """Per queue: counts by state and the age of the oldest due task."""
        return await self._t.collect(work.queues(), None)


class AsyncRemoteDeadLetters:
    """Dead tasks over HTTP."""

    def __init__(self, transport: AsyncTransport) -> None:
        self._t = transport

    async def groups(self) -> list[DeadLetterGroup]:
        """Dead tasks grouped by error."""
        return await self._t.collect(work.dead_letters(), None)

    async def retry(
        self,
        task_ids: Sequence[str] | None = None,
        *,
        all: bool = False,
        reset_steps: StepsToReset = False,
    ) -> list[str]:
        """Send dead tasks back to the queue: those named, or every one with ``all``."""
        return await self._t.do(work.replay_dead(task_ids, every=all, reset_steps=reset_steps))


class AsyncRemoteSurface:
    """Every operation over HTTP, as the key's agent."""

    def __init__(self, transport: AsyncTransport) -> None:
        caller = AsyncCaller(transport)
        self.agents = AsyncRemoteAgents(transport, caller)
        self.mail = AsyncRemoteMail(transport, caller)
        self.tasks = AsyncRemoteTasks(transport)
        self.queues = AsyncRemoteQueues(transport)
        self.dead_letters = AsyncRemoteDeadLetters(transport)
        self.runs = AsyncRemoteRuns(transport, caller)
