"""The mailbox half of :class:`coord.App`: agents, sending, inboxes, ``receive`` and
``@app.agent`` handlers, with the plugin hooks around them."""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from typing import Any

from coord.domain.durations import parse_duration
from coord.domain.messages import SendResult, check_agent_name, handler_task_name
from coord.domain.tasks import TaskPolicy
from coord.domain.views import AgentInfo, EventInfo, InboxMessage, MessageInfo
from coord.errors import InvalidInput
from coord.messaging.handlers import AgentDefinition, AgentHandler, handler_task_function
from coord.messaging.plugins import (
    MessageReceipt,
    ReceiveHook,
    SendHook,
    chain,
)
from coord.messaging.waiter import MessageWaiter
from coord.operations._async.local import AsyncLocalSurface
from coord.operations._sync.local import LocalMail
from coord.operations.queries import Draft
from coord.ports.store import Store
from coord.runtime.registry import Registry, TaskDefinition
from coord.services import messages as mail
from coord.services.messages import Outgoing
from coord.settings import Settings
from coord.storage.factory import notifier_for

DurationLike = str | float | timedelta


class MailboxFeatures:
    """Agents and messages on an App (mixed into :class:`coord.App`)."""

    settings: Settings
    registry: Registry
    _lock: threading.RLock

    @property
    def store(self) -> Store:  # provided by App
        raise NotImplementedError

    @property
    def mail(self) -> LocalMail:  # provided by App
        raise NotImplementedError

    @property
    def aio(self) -> AsyncLocalSurface:  # provided by App
        raise NotImplementedError

    def _init_mailbox(self) -> None:
        self.agent_handlers: dict[str, AgentDefinition] = {}
        self.sent_hooks: list[SendHook] = []
        self.received_hooks: list[ReceiveHook] = []
        self._message_waiter: MessageWaiter | None = None

    def _close_mailbox(self) -> None:
        if self._message_waiter is not None:
            self._message_waiter.close()
            self._message_waiter = None

    def _open_agents(self, store: Store) -> None:
        """Make sure every agent with a handler exists (called when the store opens)."""
        for definition in self.agent_handlers.values():
            if store.get_agent(definition.agent) is None:
                mail.add_agent(
                    store,
                    definition.agent,
                    role=definition.role,
                    domains=definition.domains,
                    description=definition.description,
                    actor="coord:app",
                )

    # -- declaring --------------------------------------------------------------------
    def agent(
        self,
        name: str,
        *,
        concurrency: int | None = None,
        retries: int = 5,
        retry_backoff: DurationLike = 1.0,
        timeout: DurationLike | None = "10m",
        queue: str = "default",
        role: str | None = None,
        domains: Sequence[str] = (),
        description: str | None = None,
    ) -> Callable[[AgentHandler], AgentHandler]:
        """Register ``async def handler(ctx, message)`` for every message delivered to
        agent ``name`` (registered in the database when the App opens it, if missing).

        The worker runs it at least once per message, never again once it returned
        (the message is then acknowledged), critical messages first; ``concurrency``
        caps how many messages of this agent are handled at once (over all workers);
        a message whose handler keeps failing goes to the dead letters with its error
        after ``retries`` retries. ``ctx.reply(...)`` answers in the thread,
        ``ctx.send(...)`` sends as this agent."""

        def register(fn: AgentHandler) -> AgentHandler:
            where = f"@app.agent({name!r})"
            try:
                check_agent_name(name)
                if not inspect.iscoroutinefunction(fn):
                    raise ValueError("the handler must be an async function (async def)")
                if concurrency is not None and concurrency < 1:
                    raise ValueError("concurrency must be >= 1")
                policy = TaskPolicy(
                    name=handler_task_name(name),
                    queue=queue,
                    retries=retries,
                    retry_backoff=parse_duration(retry_backoff),
                    timeout=None if timeout is None else parse_duration(timeout),
                    stall_after=self.settings.stall_after,
                    concurrency_key=None if concurrency is None else handler_task_name(name),
                    concurrency_limit=concurrency,
                )
            except ValueError as exc:
                raise InvalidInput(f"{where}: {exc}") from None
            definition = AgentDefinition(name, fn, role, tuple(domains), description)
            task_fn = handler_task_function(definition, lambda: self, self.received_hooks)
            with self._lock:
                self.agent_handlers[name] = definition
                self.registry.add_task(TaskDefinition(task_fn, policy))
                if self._store_if_open() is not None:
                    self._open_agents(self.store)
                    self.store.register_policies([policy])
            return fn

        return register

    def _store_if_open(self) -> Store | None:
        raise NotImplementedError

    def on_message_sent(self, hook: SendHook) -> SendHook:
        """Register ``async def hook(send: MessageSend, call_next)`` around every send
        of this App (it may change the batch, refuse it by raising, or see results)."""
        self.sent_hooks.append(hook)
        return hook

    def on_message_received(self, hook: ReceiveHook) -> ReceiveHook:
        """Register ``async def hook(receipt: MessageReceipt, call_next)`` around every
        message this App hands to an agent (``receive`` and agent handlers)."""
        self.received_hooks.append(hook)
        return hook

    # -- agents -----------------------------------------------------------------------
    def add_agent(
        self,
        name: str,
        *,
        role: str | None = None,
        domains: Sequence[str] = (),
        description: str | None = None,
        human: bool = False,
    ) -> AgentInfo:
        """Register an agent; ``Conflict`` if one of that name exists."""
        return mail.add_agent(
            self.store, name, role=role, domains=domains, description=description, human=human
        )

    def get_agent(self, name: str) -> AgentInfo:
        """One agent; ``NotFound`` if there is none."""
        return mail.get_agent(self.store, name)

    def list_agents(self) -> list[AgentInfo]:
        """Every agent, by name."""
        return mail.list_agents(self.store)

    def remove_agent(self, name: str) -> None:
        """Remove an agent and its subscriptions (its messages are kept)."""
        mail.remove_agent(self.store, name)

    def subscribe(self, agent: str, topic: str) -> bool:
        """Subscribe ``agent`` to ``topic``; False if it was subscribed already."""
        return mail.subscribe(self.store, agent, topic)

    def unsubscribe(self, agent: str, topic: str) -> bool:
        """End a subscription; False if there was none."""
        return mail.unsubscribe(self.store, agent, topic)

    # -- sending ----------------------------------------------------------------------
    def send(
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
        """Send a message from agent ``sender`` to an agent, ``topic:NAME`` (every
        subscriber but the sender) or ``all`` (every agent but the sender).

        ``body`` is any JSON value. A reply (``reply_to``) joins its parent's thread.
        With ``key``, sending the same message again returns the first one
        (``created`` False) and a different one raises ``IdempotencyConflict``.
        ``ttl`` makes it expire from inboxes. Bad input raises ``InvalidInput`` or
        ``NotFound`` naming the problem, and nothing is stored."""
        outgoing = Outgoing(sender, to, subject, body, priority, thread, reply_to, key, ttl)
        return self.send_many([outgoing])[0]

    def send_many(self, messages: Iterable[Outgoing]) -> list[SendResult]:
        """Send a batch in one transaction: all of it is stored, or none (inside the
        send hooks, as every send is: see ``app.mail``)."""
        return self.mail.send_many([_draft(m) for m in messages])

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
        """:meth:`send` without blocking the event loop."""
        outgoing = Outgoing(sender, to, subject, body, priority, thread, reply_to, key, ttl)
        return (await self.send_many_async([outgoing]))[0]

    async def send_many_async(self, messages: Iterable[Outgoing]) -> list[SendResult]:
        """:meth:`send_many` without blocking the event loop."""
        return await self.aio.mail.send_many([_draft(m) for m in messages])

    # -- reading ----------------------------------------------------------------------
    def inbox(
        self,
        agent: str,
        *,
        unread: bool = False,
        by_priority: bool = False,
        thread: str | None = None,
        sender: str | None = None,
        topic: str | None = None,
        after_seq: int = 0,
        limit: int = 50,
    ) -> list[InboxMessage]:
        """An agent's messages, oldest first (critical first with ``by_priority``):
        only unread ones, one thread's, one sender's or one topic's when asked;
        ``after_seq`` lists only what arrived after that sequence number."""
        return mail.inbox(
            self.store,
            agent,
            unread=unread,
            by_priority=by_priority,
            thread=thread,
            sender=sender,
            topic=topic,
            after_seq=after_seq,
            limit=limit,
        )

    async def inbox_async(self, agent: str, **options: Any) -> list[InboxMessage]:
        """:meth:`inbox` without blocking the event loop."""
        return await asyncio.to_thread(lambda: self.inbox(agent, **options))

    def read(self, agent: str, message_id: str) -> InboxMessage:
        """One message of ``agent``'s inbox, marked read."""
        return mail.read(self.store, agent, message_id)

    async def read_async(self, agent: str, message_id: str) -> InboxMessage:
        """:meth:`read` without blocking the event loop."""
        return await asyncio.to_thread(self.read, agent, message_id)

    def ack(self, agent: str, message_ids: str | Sequence[str]) -> list[str]:
        """Acknowledge messages of ``agent``'s inbox (all or none); return the ids
        this call acknowledged."""
        ids = [message_ids] if isinstance(message_ids, str) else list(message_ids)
        return mail.ack(self.store, agent, ids)

    async def ack_async(self, agent: str, message_ids: str | Sequence[str]) -> list[str]:
        """:meth:`ack` without blocking the event loop."""
        return await asyncio.to_thread(self.ack, agent, message_ids)

    def message(self, message_id: str) -> MessageInfo:
        """A message with each recipient's delivery state (delivered, read, acked)."""
        return mail.get_message(self.store, message_id)

    def thread(self, thread_id: str) -> list[MessageInfo]:
        """The messages of a thread (or of the thread of a message), oldest first."""
        return mail.thread(self.store, thread_id)

    def message_events(self, message_id: str) -> list[EventInfo]:
        """A message's events, oldest first."""
        return mail.message_events(self.store, message_id)

    async def receive(
        self,
        agent: str,
        topic: str | None = None,
        *,
        timeout: float | None = None,
        by_priority: bool = False,
    ) -> Any:
        """Wait for the next unread message of ``agent`` (of ``topic`` only, if
        given), mark it read and return it; None after ``timeout`` seconds.

        Returns as soon as a message is delivered: woken by LISTEN/NOTIFY on
        PostgreSQL and by an in-process signal (or the file watch) on SQLite. Two
        receivers of one agent never get the same message. Oldest first, or
        critical first with ``by_priority``."""
        mail.get_agent(self.store, agent)
        if topic is not None:
            mail.check_topic_name(topic)
        message = await self._messages().take(agent, topic, by_priority, timeout)
        if message is None:
            return None

        async def hand_over(receipt: MessageReceipt) -> Any:
            return receipt.message

        return await chain(self.received_hooks, hand_over)(
            MessageReceipt(agent, message, "receive")
        )

    def _messages(self) -> MessageWaiter:
        with self._lock:
            if self._message_waiter is None:
                store = self.store
                self._message_waiter = MessageWaiter(
                    store, lambda: notifier_for(store, self.settings)
                )
            return self._message_waiter


def _draft(message: Outgoing) -> Draft:
    return Draft(
        message.to,
        message.subject,
        message.body,
        message.priority,
        message.thread,
        message.reply_to,
        message.ttl,
        message.key,
        message.sender,
    )
