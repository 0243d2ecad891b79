"""``coord.Client``: a coord server's API from Python, for agents that run elsewhere."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from coord.client import calls, streams
from coord.client.models import Draft, EventPage, Me, Sent, Subscription
from coord.client.sync_work import SyncWork
from coord.client.transport import SyncTransport, api_base, headers
from coord.domain.views import AgentInfo, EventInfo, InboxMessage, MessageInfo


class Client(SyncWork):
    """A coord server, called as the agent of ``api_key``.

    Methods return the models the API answers (the same as :class:`coord.App` and
    the CLI show) and raise coord's errors: ``Unauthenticated`` (401), ``Forbidden``
    (403), ``NotFound``, ``InvalidInput`` (its ``data["field"]`` names the field),
    ``IdempotencyConflict``, ``Conflict``, ``RateLimited`` (``retry_after``), and
    ``ServerUnavailable`` when the server cannot be reached. Calls that are safe to
    repeat (reads, and writes with a key) are retried up to ``retries`` times after
    a 429 or 503, waiting as ``Retry-After`` says. Use it as a context manager, or
    call :meth:`close`.
    """

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        retries: int = 2,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        base = api_base(url)
        http = httpx.Client(
            base_url=base, headers=headers(api_key), timeout=timeout, transport=transport
        )
        self._t = SyncTransport(http, base, retries)
        self._me: str | None = None

    def close(self) -> None:
        """Close the connections."""
        self._t.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self._t.url!r})"

    def _agent(self, agent: str | None) -> str:
        if agent is not None:
            return agent
        if self._me is None:
            self._me = self.whoami().agent
        return self._me

    # -- the caller and agents -------------------------------------------------------
    def whoami(self) -> Me:
        """The calling agent, its role, permissions and authority domains."""
        return self._t.do(calls.whoami())

    def agents(self) -> list[AgentInfo]:
        """Every registered agent, by name."""
        return self._t.collect(calls.agents_pager(), None)

    def agent(self, name: str) -> AgentInfo:
        """One agent."""
        return self._t.do(calls.agent(name))

    def subscribe(self, topic: str, agent: str | None = None) -> Subscription:
        """Subscribe an agent (default: the caller) to ``topic``."""
        return self._t.do(calls.subscription(self._agent(agent), topic, on=True))

    def unsubscribe(self, topic: str, agent: str | None = None) -> Subscription:
        """End an agent's (default: the caller's) subscription to ``topic``."""
        return self._t.do(calls.subscription(self._agent(agent), topic, on=False))

    # -- messages --------------------------------------------------------------------
    def send(
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
        return self._t.do(calls.send(draft, sender))

    def send_many(self, drafts: Sequence[Draft]) -> list[Sent]:
        """Send many messages in one transaction, all or none."""
        return self._t.do(calls.send_many(drafts))

    def inbox(
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
            self._agent(agent),
            unread=unread,
            by_priority=by_priority,
            thread_id=thread_id,
            sender=sender,
            topic=topic,
        )
        return self._t.collect(pager, limit)

    def read(self, message_id: str, agent: str | None = None) -> InboxMessage:
        """One message of an inbox (default: the caller's), marked read."""
        return self._t.do(calls.read(self._agent(agent), message_id))

    def take(
        self, agent: str | None = None, *, topic: str | None = None, by_priority: bool = False
    ) -> InboxMessage | None:
        """The next unread message, marked read, without waiting (None: nothing
        unread). Two callers never get the same message."""
        return self._t.do(calls.take(self._agent(agent), topic, by_priority))

    def receive(
        self, timeout: float | None = None, topic: str | None = None, by_priority: bool = False
    ) -> InboxMessage | None:
        """Wait for the next unread message of the caller's inbox (of ``topic``
        only, if given), mark it read and return it; None after ``timeout`` seconds
        (None: wait as long as it takes). Woken by the server's event stream, not by
        polling; two receivers never get the same message."""
        me = self._agent(None)
        return streams.receive(
            self._t, me, lambda: self.take(me, topic=topic, by_priority=by_priority), timeout
        )

    def ack(self, message_ids: str | Sequence[str], agent: str | None = None) -> list[str]:
        """Acknowledge messages, all or none; the ids this call acknowledged."""
        ids = [message_ids] if isinstance(message_ids, str) else list(message_ids)
        return self._t.do(calls.ack(self._agent(agent), ids))

    def message(self, message_id: str) -> MessageInfo:
        """A message with each recipient's delivery state."""
        return self._t.do(calls.message(message_id))

    def message_events(self, message_id: str) -> list[EventInfo]:
        """A message's events, oldest first."""
        return self._t.collect(calls.message_events(message_id), None)

    def thread(self, thread_id: str) -> list[MessageInfo]:
        """The messages of a thread (or of the thread of a message), oldest first."""
        return self._t.collect(calls.thread(thread_id), None)

    # -- events ----------------------------------------------------------------------
    def events(
        self,
        *,
        topic: str | None = None,
        run: str | None = None,
        agent: str | None = None,
        after: str | None = None,
    ) -> streams.EventStream:
        """Events as they happen, after the cursor ``after`` (else from when it
        connects, at the first ``next``), resuming by itself after a dropped
        connection. Iterate it; close it when done."""
        return streams.EventStream(self._t, calls.event_filters(topic, run, agent), after)

    def event_page(
        self,
        *,
        topic: str | None = None,
        run: str | None = None,
        agent: str | None = None,
        after: str | None = None,
        limit: int = 100,
    ) -> EventPage:
        """Events after the cursor ``after`` (from the first without), one page."""
        return self._t.do(calls.event_page(calls.event_filters(topic, run, agent), after, limit))
