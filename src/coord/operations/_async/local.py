"""The surface over the database: each operation checks what the principal may do
(:mod:`coord.services.access`), then calls the services, with the plugin hooks
around sends and receipts. ``app.aio`` is one; the API server serves each request
through one acting as the caller, so every face decides alike."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from coord.domain import bounds
from coord.domain.messages import NewMessage, SendResult
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
from coord.errors import Forbidden, InvalidInput
from coord.messaging.plugins import MessageReceipt, MessageSend
from coord.operations._async.listing import collect, page_size
from coord.operations._async.protocols import StepsToReset
from coord.operations.bridge import next_message, offload, through_hooks
from coord.operations.cursors import decode, decode_id, decode_position, page
from coord.operations.local_parts import LocalParts
from coord.operations.queries import Draft, EnqueueOptions, InboxQuery, TaskFilter
from coord.operations.results import Enqueued, Me, Subscription
from coord.services import access
from coord.services import messages as mail
from coord.services import tasks as task_service

if TYPE_CHECKING:
    from coord.operations._async.local_runs import AsyncLocalRuns

# Tasks coord enqueues itself: an agent's message handler (a forged one would act as
# a delivery) and the run engine's timers.
INTERNAL_TASK_PREFIXES = ("agent:", "coord.")


class AsyncLocalAgents:
    """Agents over the database."""

    def __init__(self, parts: LocalParts) -> None:
        self._p = parts

    async def me(self) -> Me:
        """The caller."""
        p = self._p.principal
        return Me(
            agent=p.agent,
            key_id=p.key_id,
            role=p.role,
            permissions=sorted(p.permissions),
            domains=sorted(p.domains),
            human=p.human,
        )

    async def page(self, limit: int = 50, cursor: str | None = None) -> Page[AgentInfo]:
        """One page of the agents, by name."""
        access.require(self._p.principal, "read_agents")
        size = page_size(limit)
        after = decode(cursor)
        if after is not None and not isinstance(after, str):
            raise InvalidInput("cursor: not a cursor coord gave", field="cursor")
        agents = await offload(mail.list_agents, self._p.store())
        later = sorted((a for a in agents if after is None or a.name > after), key=_name)
        return page(later[: size + 1], size, _name)

    async def all(self) -> list[AgentInfo]:
        """Every agent, by name."""
        return await collect(self.page, None)

    async def get(self, name: str) -> AgentInfo:
        """One agent."""
        access.require(self._p.principal, "read_agents")
        return await offload(mail.get_agent, self._p.store(), name)

    async def add(
        self,
        name: str,
        *,
        description: str | None = None,
        human: bool = False,
        domains: Sequence[str] = (),
        role: str | None = None,
    ) -> AgentInfo:
        """Register an agent. Its authority domains and its role widen what it may
        do, so they need the admin permission."""
        principal = self._p.principal
        access.require(principal, "manage_agents")
        if domains or role is not None:
            access.require(principal, "admin")
        return await offload(
            mail.add_agent,
            self._p.store(),
            name,
            role=role,
            domains=domains,
            description=description,
            human=human,
            actor=self._p.actor,
        )

    async def remove(self, name: str) -> None:
        """Mark an agent removed."""
        access.require(self._p.principal, "manage_agents")
        await offload(mail.remove_agent, self._p.store(), name, actor=self._p.actor)

    async def subscribe(self, topic: str, agent: str | None = None) -> Subscription:
        """Subscribe an agent (default: the caller) to ``topic``."""
        name = self._subscriber(topic, agent)
        changed = await offload(mail.subscribe, self._p.store(), name, topic, actor=self._p.actor)
        return Subscription(agent=name, topic=topic, changed=changed)

    async def unsubscribe(self, topic: str, agent: str | None = None) -> Subscription:
        """End a subscription."""
        name = self._subscriber(topic, agent)
        changed = await offload(mail.unsubscribe, self._p.store(), name, topic, actor=self._p.actor)
        return Subscription(agent=name, topic=topic, changed=changed)

    def _subscriber(self, topic: str, agent: str | None) -> str:
        """Its own subscriptions need ``subscribe``, another agent's ``manage_agents``;
        a topic that requires an authority domain needs it too."""
        principal = self._p.principal
        name = access.acting_agent(principal, agent)
        domain = self._p.roles.required_domain("topic", topic)
        access.require_self_or(principal, name, "subscribe", "manage_agents", domain=domain)
        return name


class AsyncLocalMail:
    """Messages over the database."""

    def __init__(self, parts: LocalParts) -> None:
        self._p = parts

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
        """Send one message."""
        draft = Draft(to, subject, body, priority, thread_id, reply_to, ttl, key, sender)
        return (await self.send_many([draft]))[0]

    async def send_many(self, drafts: Sequence[Draft]) -> list[SendResult]:
        """Send a batch in one transaction, inside the send hooks."""
        batch = self._build(drafts)
        store = self._p.store()

        def store_batch(send: MessageSend) -> list[SendResult]:
            return mail.send(store, list(send.messages))

        return await through_hooks(self._p.send_hooks, store_batch, MessageSend(tuple(batch)))

    def _build(self, drafts: Sequence[Draft]) -> list[NewMessage]:
        principal = self._p.principal
        access.require(principal, "send_message")
        if not drafts:
            raise InvalidInput("messages: nothing to send", field="messages")
        built = []
        max_bytes = self._p.max_message_bytes
        for draft in drafts:
            sender = access.require_sender(principal, draft.sender)
            if draft.to.startswith("topic:"):
                topic = draft.to.removeprefix("topic:")
                domain = self._p.roles.required_domain("topic", topic)
                access.require(principal, "send_message", domain=domain)
            built.append(mail.build_message(draft, sender, max_bytes=max_bytes))
        return built

    def _inbox_of(self, agent: str | None) -> str:
        principal = self._p.principal
        name = access.acting_agent(principal, agent)
        access.require_self_or(principal, name, "read_own_inbox", "read_all_inboxes")
        return name

    async def inbox_page(
        self, agent: str | None = None, query: InboxQuery | None = None, cursor: str | None = None
    ) -> Page[InboxMessage]:
        """One page of an inbox: by sequence number, or by position with
        ``by_priority`` (critical first is not an order of sequence numbers)."""
        name = self._inbox_of(agent)
        q = query or InboxQuery()
        size = page_size(q.limit)
        since = _after_seq(q.after_seq)
        options: dict[str, Any] = {
            "unread": q.unread,
            "by_priority": q.by_priority,
            "thread": q.thread_id,
            "sender": q.sender,
            "topic": q.topic,
        }
        store = self._p.store()
        if q.by_priority:
            offset = decode_position(cursor, mail.MAX_INBOX_LIMIT - size - 1)
            found = await offload(
                mail.inbox, store, name, after_seq=since, limit=offset + size + 1, **options
            )
            return page(found[offset:], size, lambda _m: offset + size)
        # A cursor only moves forward from after_seq: the larger of the two bounds wins.
        after = max(since, decode_position(cursor, bounds.MAX_ID))
        found = await offload(mail.inbox, store, name, after_seq=after, limit=size + 1, **options)
        return page(found, size, _seq)

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
        name = self._inbox_of(agent)
        return await offload(mail.read, self._p.store(), name, message_id)

    async def take(
        self, agent: str | None = None, *, topic: str | None = None, by_priority: bool = False
    ) -> InboxMessage | None:
        """The next unread message, marked read, without waiting."""
        name = self._inbox_of(agent)
        return await offload(mail.take, self._p.store(), name, topic=topic, by_priority=by_priority)

    async def receive(
        self,
        agent: str | None = None,
        *,
        topic: str | None = None,
        timeout: float | None = None,
        by_priority: bool = False,
    ) -> InboxMessage | None:
        """Wait for the next unread message, inside the receive hooks."""
        name = self._inbox_of(agent)
        store = self._p.store()
        await offload(mail.get_agent, store, name)
        if topic is not None:
            mail.check_topic_name(topic)
        found = await next_message(self._p.waiter(), name, topic, by_priority, timeout)
        if found is None:
            return None
        receipt = MessageReceipt(name, found, "receive")
        handed: InboxMessage | None = await through_hooks(
            self._p.receive_hooks, _hand_over, receipt
        )
        return handed

    async def ack(self, message_ids: str | Sequence[str], agent: str | None = None) -> list[str]:
        """Acknowledge messages, all or none."""
        name = self._inbox_of(agent)
        ids = [message_ids] if isinstance(message_ids, str) else list(message_ids)
        return await offload(mail.ack, self._p.store(), name, ids)

    async def message(self, message_id: str) -> MessageInfo:
        """A message with each recipient's delivery state."""
        reader = access.inbox_reader(self._p.principal)
        return await offload(mail.get_message, self._p.store(), message_id, reader=reader)

    async def message_events(self, message_id: str) -> list[EventInfo]:
        """A message's events."""
        reader = access.inbox_reader(self._p.principal)
        return await offload(mail.message_events, self._p.store(), message_id, reader=reader)

    async def thread(self, thread_id: str) -> list[MessageInfo]:
        """A thread's messages."""
        reader = access.inbox_reader(self._p.principal)
        return await offload(mail.thread, self._p.store(), thread_id, reader=reader)


class AsyncLocalTasks:
    """Tasks over the database."""

    def __init__(self, parts: LocalParts) -> None:
        self._p = parts

    async def enqueue(
        self,
        task: str,
        payload: dict[str, Any] | None = None,
        *,
        key: str | None = None,
        options: EnqueueOptions | None = None,
    ) -> Enqueued:
        """Enqueue one task."""
        return (await self.enqueue_many(task, [payload or {}], keys=[key], options=options))[0]

    async def enqueue_many(
        self,
        task: str,
        payloads: Sequence[dict[str, Any]],
        *,
        keys: Sequence[str | None] | None = None,
        options: EnqueueOptions | None = None,
    ) -> list[Enqueued]:
        """Enqueue a batch, all or none, with the policy the task registered."""
        principal = self._p.principal
        access.require(principal, "enqueue_task")
        if not principal.local and task.startswith(INTERNAL_TASK_PREFIXES):
            raise Forbidden(
                f"task: {task!r} is enqueued by coord itself, not through the API", field="task"
            )
        o = options or EnqueueOptions()
        how = task_service.enqueue_options(priority=o.priority, delay=o.delay, queue=o.queue)
        results = await offload(
            task_service.enqueue_by_name,
            self._p.store(),
            task,
            list(payloads),
            keys=None if keys is None else list(keys),
            options=how,
            max_payload_bytes=self._p.max_payload_bytes,
            actor=self._p.actor,
        )
        return [Enqueued(id=r.id, created=r.created) for r in results]

    async def page(
        self, query: TaskFilter | None = None, cursor: str | None = None
    ) -> Page[TaskInfo]:
        """One page of the tasks, newest first."""
        access.require(self._p.principal, "read_tasks")
        q = query or TaskFilter()
        size = page_size(q.limit)
        found = await offload(
            task_service.list_tasks,
            self._p.store(),
            state=q.state,
            queue=q.queue,
            name=q.name,
            limit=size + 1,
            before_id=decode_id(cursor),
        )
        return page(found, size, _id)

    async def find(self, query: TaskFilter | None = None) -> list[TaskInfo]:
        """Tasks, newest first."""
        q = query or TaskFilter()
        return await collect(
            lambda size, cursor: self.page(dataclasses.replace(q, limit=size), cursor), q.limit
        )

    async def get(self, task_id: str) -> TaskInfo:
        """One task."""
        access.require(self._p.principal, "read_tasks")
        return await offload(task_service.get_task, self._p.store(), task_id)

    async def events(self, task_id: str) -> list[EventInfo]:
        """A task's history."""
        access.require(self._p.principal, "read_tasks")
        return await offload(task_service.task_events, self._p.store(), task_id)

    async def cancel(self, task_id: str) -> TaskInfo:
        """Cancel a task: one the caller enqueued, or any with manage_tasks."""
        principal = self._p.principal
        if principal.local:
            return await offload(
                task_service.cancel_task, self._p.store(), task_id, actor=self._p.actor
            )
        return await offload(task_service.cancel_task_as, self._p.store(), task_id, principal)

    async def retry(self, task_id: str, *, reset_steps: StepsToReset = False) -> TaskInfo:
        """Retry a dead, failed or cancelled task now."""
        access.require(self._p.principal, "manage_tasks")
        return await offload(
            task_service.retry_task,
            self._p.store(),
            task_id,
            reset_steps=reset_steps,
            actor=self._p.actor,
        )


class AsyncLocalQueues:
    """Queues over the database."""

    def __init__(self, parts: LocalParts) -> None:
        self._p = parts

    async def stats(self) -> list[QueueStats]:
        """Per queue: counts by state and the age of the oldest due task."""
        access.require(self._p.principal, "read_tasks")
        return await offload(task_service.queue_stats, self._p.store())


class AsyncLocalDeadLetters:
    """Dead tasks over the database."""

    def __init__(self, parts: LocalParts) -> None:
        self._p = parts

    async def groups(self) -> list[DeadLetterGroup]:
        """Dead tasks grouped by error."""
        access.require(self._p.principal, "read_tasks")
        return await offload(task_service.dead_letters, self._p.store())

    async def retry(
        self,
        task_ids: Sequence[str] | None = None,
        *,
        all: bool = False,
        reset_steps: StepsToReset = False,
    ) -> list[str]:
        """Send dead tasks back to the queue: those named, or every one with ``all``."""
        access.require(self._p.principal, "manage_tasks")
        chosen = retry_choice(task_ids, all)
        return await offload(
            task_service.replay_dead,
            self._p.store(),
            chosen,
            reset_steps=reset_steps,
            actor=self._p.actor,
        )


class AsyncLocalSurface:
    """Every operation over the database, as one principal."""

    def __init__(self, parts: LocalParts) -> None:
        self.parts = parts
        self.agents = AsyncLocalAgents(parts)
        self.mail = AsyncLocalMail(parts)
        self.tasks = AsyncLocalTasks(parts)
        self.queues = AsyncLocalQueues(parts)
        self.dead_letters = AsyncLocalDeadLetters(parts)

    @functools.cached_property
    def runs(self) -> AsyncLocalRuns:
        """Workflows and runs, loaded when first used: a command that lists tasks
        should not import the workflow engine (``coord task list`` starts faster)."""
        from coord.operations._async.local_runs import AsyncLocalRuns

        return AsyncLocalRuns(self.parts)


def retry_choice(task_ids: Sequence[str] | None, every: bool) -> list[str] | None:
    """Which dead tasks a retry names (None: all of them). Naming none is refused
    unless ``all`` says so: an empty request must not retry everything by accident."""
    if every:
        if task_ids:
            raise InvalidInput("all: name task_ids or ask for all, not both", field="all")
        return None
    if not task_ids:
        raise InvalidInput(
            "task_ids: name the dead tasks to retry, or say all: true to retry every one",
            field="task_ids",
        )
    return list(task_ids)


def _hand_over(receipt: MessageReceipt) -> InboxMessage:
    return receipt.message


def _name(agent: AgentInfo) -> str:
    return agent.name


def _seq(message: InboxMessage) -> int:
    return message.seq


def _id(task: TaskInfo) -> str:
    return task.id


def _after_seq(value: int | None) -> int:
    """``InboxQuery.after_seq`` as the store's lower bound (0: from the start), or
    ``InvalidInput`` naming ``after_seq`` for a negative or non-whole value."""
    if value is None:
        return 0
    try:
        return bounds.whole(value, "after_seq", high=bounds.MAX_ID)
    except bounds.OutOfRange as exc:
        raise InvalidInput.of(exc) from None
