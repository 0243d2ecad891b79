"""``coord.AsyncClient``: :class:`coord.Client` for asyncio code, method for method."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any

import httpx

from coord.client import calls, streams
from coord.client.aio_work import AsyncWork
from coord.client.models import Draft, EventPage, Me, Sent, Subscription
from coord.client.transport import AsyncTransport, api_base, headers
from coord.domain.views import AgentInfo, EventInfo, InboxMessage, MessageInfo


class AsyncClient(AsyncWork):
    """A coord server, called as the agent of ``api_key``, from asyncio code: every
    method of :class:`coord.Client` (same arguments, same answers, same errors), as
    a coroutine. Use it as an async context manager, or await :meth:`aclose`.
    """

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        retries: int = 2,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        base = api_base(url)
        http = httpx.AsyncClient(
            base_url=base, headers=headers(api_key), timeout=timeout, transport=transport
        )
        self._t = AsyncTransport(http, base, retries)
        self._me: str | None = None

    async def aclose(self) -> None:
        """Close the connections."""
        await self._t.http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"AsyncClient({self._t.url!r})"

    async def _agent(self, agent: str | None) -> str:
        if agent is not None:
            return agent
        if self._me is None:
            self._me = (await self.whoami()).agent
        return self._me

    # -- the caller and agents -------------------------------------------------------
    async def whoami(self) -> Me:
        """The calling agent, its role, permissions and authority domains."""
        return await self._t.do(calls.whoami())

    async def agents(self) -> list[AgentInfo]:
        """Every registered agent, by name."""
        return await self._t.collect(calls.agents_pager(), None)

    async def agent(self, name: str) -> AgentInfo:
        """One agent."""
        return await self._t.do(calls.agent(name))

    async def subscribe(self, topic: str, agent: str | None = None) -> Subscription:
        """Subscribe an agent (default: the caller) to ``topic``."""
        return await self._t.do(calls.subscription(await self._agent(agent), topic, on=True))

    async def unsubscribe(self, topic: str, agent: str | None = None) -> Subscription:
        """End an agent's (default: the caller's) subscription to ``topic``."""
        return await self._t.do(calls.subscription(await self._agent(agent), topic, on=False))

    # -- messages --------------------------------------------------------------------
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
    ) -> Sent:
        """Send a message as the caller to ``to`` (an agent, ``topic:NAME`` or
        ``all``). With ``key``, sending it again returns the first one
        (``created`` False). ``sender``, if given, must be the caller: the server
        refuses another name (``Forbidden``)."""
        draft = Draft(to, subject, body, priority, thread_id, reply_to, ttl, key)
        return await self._t.do(calls.send(draft, sender))

    async def send_many(self, drafts: Sequence[Draft]) -> list[Sent]:
        """Send many messages in one transaction, all or none."""
        return await self._t.do(calls.send_many(drafts))

    async def inbox(
        self,
        agent: str | None = None,
        *,
        unread: bool = False,
        by_priority: bool = False,
        thread_id: str | None = None,
        sender: str | None = None,
        topic: str | None = None,
        limit: int | None = 50,
    ) -> list[InboxMessage]:
        """An inbox (default: the caller's), oldest first (critical first with
        ``by_priority``), at most ``limit`` messages (None: all). Marks nothing read."""
        pager = calls.inbox_pager(
            await self._agent(agent),
            unread=unread,
            by_priority=by_priority,
            thread_id=thread_id,
            sender=sender,
            topic=topic,
        )
        return await self._t.collect(pager, limit)

    async def read(self, message_id: str, agent: str | None = None) -> InboxMessage:
        """One message of an inbox (default: the caller's), marked read."""
        return await self._t.do(calls.read(await self._agent(agent), message_id))

    async def take(
        self, agent: str | None = None, *, topic: str | None = None, by_priority: bool = False
    ) -> InboxMessage | None:
        """The next unread message, marked read, without waiting (None: nothing
        unread). Two callers never get the same message."""
        return await self._t.do(calls.take(await self._agent(agent), topic, by_priority))

    async def receive(
        self, timeout: float | None = None, topic: str | None = None, by_priority: bool = False
    ) -> InboxMessage | None:
        """Wait for the next unread message of the caller's inbox (of ``topic``
        only, if given), mark it read and return it; None after ``timeout`` seconds
        (None: wait as long as it takes). Woken by the server's event stream, not by
        polling; two receivers never get the same message."""
        me = await self._agent(None)

        async def take() -> InboxMessage | None:
            return await self.take(me, topic=topic, by_priority=by_priority)

        return await streams.areceive(self._t, me, take, timeout)

    async def ack(self, message_ids: str | Sequence[str], agent: str | None = None) -> list[str]:
        """Acknowledge messages, all or none; the ids this call acknowledged."""
        ids = [message_ids] if isinstance(message_ids, str) else list(message_ids)
        return await self._t.do(calls.ack(await self._agent(agent), ids))

    async def message(self, message_id: str) -> MessageInfo:
        """A message with each recipient's delivery state."""
        return await self._t.do(calls.message(message_id))

    async def message_events(self, message_id: str) -> list[EventInfo]:
        """A message's events, oldest first."""
        return await self._t.collect(calls.message_events(message_id), None)

    async def thread(self, thread_id: str) -> list[MessageInfo]:
        """The messages of a thread (or of the thread of a message), oldest first."""
        return await self._t.collect(calls.thread(thread_id), None)

    # -- events ----------------------------------------------------------------------
    def events(
        self,
        *,
        topic: str | None = None,
        run: str | None = None,
        agent: str | None = None,
        after: str | None = None,
    ) -> streams.AsyncEventStream:
        """Events as they happen, after the cursor ``after`` (else from when it
        connects, at the first ``anext``), resuming by itself after a dropped
        connection. Use ``async for``; ``aclose`` it when done."""
        return streams.AsyncEventStream(self._t, calls.event_filters(topic, run, agent), after)

    async def event_page(
        self,
        *,
        topic: str | None = None,
        run: str | None = None,
        agent: str | None = None,
        after: str | None = None,
        limit: int = 100,
    ) -> EventPage:
        """Events after the cursor ``after`` (from the first without), one page."""
        return await self._t.do(
            calls.event_page(calls.event_filters(topic, run, agent), after, limit)
        )
