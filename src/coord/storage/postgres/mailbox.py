"""The PostgreSQL mailbox: agents, topics, messages and deliveries (see
:class:`coord.ports.mailbox.MailboxStore`).

A batch of sends is one transaction of a few statements, whatever its size: look up
keys, agents, threads and subscribers; lock the recipients' rows in name order and
take their next sequence numbers; insert messages, deliveries, events and handler
tasks. ``NOTIFY coord_message`` fires at commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import errors as pg_errors

from coord.domain import codec, events
from coord.domain.messages import NewAgent, NewMessage, SendResult
from coord.domain.tasks import TaskPolicy
from coord.domain.views import AgentInfo, InboxMessage
from coord.errors import Conflict, CoordError, NotFound, StoreError
from coord.storage.postgres.connection import PACKAGE, PostgresConnection, scalar
from coord.storage.rows import events as ev
from coord.storage.rows import mailbox as mc
from coord.storage.shared.mailbox_reads import MailboxReads, inbox_order, mailbox_queries
from coord.storage.sql import load_queries

M = mailbox_queries(load_queries(PACKAGE, "mailbox.sql"), now="now()")


class PostgresMailbox(PostgresConnection, MailboxReads):
    """Mailbox half of the PostgreSQL store."""

    _mailbox_queries = M

    # -- agents -----------------------------------------------------------------------
    def add_agent(self, agent: NewAgent, actor: str | None) -> AgentInfo:
        """Register an agent (or bring back a removed one)."""
        with self._tx() as conn:
            added = conn.execute(
                M["add_agent"],
                {
                    "name": agent.name,
                    "role": agent.role,
                    "domains": codec.dumps(list(agent.domains)),
                    "description": agent.description,
                    "human": agent.human,
                },
            ).fetchone()
            if added is None:
                raise Conflict(f"agent {agent.name!r} exists already", agent=agent.name)
            self._insert_events(conn, [ev.agent_event(events.AGENT_ADDED, agent.name, actor)])
        found = self.get_agent(agent.name)
        assert found is not None
        return found

    def remove_agent(self, name: str, actor: str | None) -> bool:
        """Remove an agent and its subscriptions; its messages stay."""
        with self._tx() as conn:
            if conn.execute(M["remove_agent"], {"name": name}).fetchone() is None:
                return False
            conn.execute(M["drop_subscriptions"], {"name": name})
            self._insert_events(conn, [ev.agent_event(events.AGENT_REMOVED, name, actor)])
        return True

    def subscribe(self, agent: str, topic: str, actor: str | None) -> bool:
        """Subscribe a live agent to a topic."""
        return self._subscription(M["subscribe"], events.AGENT_SUBSCRIBED, agent, topic, actor)

    def unsubscribe(self, agent: str, topic: str, actor: str | None) -> bool:
        """End a subscription."""
        return self._subscription(M["unsubscribe"], events.AGENT_UNSUBSCRIBED, agent, topic, actor)

    def _subscription(
        self, sql: str, event: str, agent: str, topic: str, actor: str | None
    ) -> bool:
        with self._tx() as conn:
            self._require_agents(conn, [agent], "subscribing")
            if conn.execute(sql, {"topic": topic, "agent": agent}).rowcount != 1:
                return False
            self._insert_events(conn, [ev.agent_event(event, agent, actor, topic=topic)])
        return True

    @staticmethod
    def _require_agents(conn: psycopg.Connection[Any], names: Sequence[str], role: str) -> None:
        live = {r[0] for r in conn.execute(M["live_agents"], {"names": list(names)})}
        for name in names:
            if name not in live:
                raise mc.unknown_agent(name, role)

    # -- sending ----------------------------------------------------------------------
    def send(self, messages: Sequence[NewMessage]) -> list[SendResult]:
        """Store and deliver messages in one round trip (the ``coord_send`` function,
        one transaction); enqueue handler tasks.

        Two processes sending with the same new key at once both miss the lookup;
        the second insert fails on the unique key and the batch is retried once,
        when the lookup finds the first one's message."""
        if not messages:
            return []
        batch = codec.dumps([_send_row(m) for m in messages])
        try:
            return self._send(batch, messages)
        except StoreError as exc:
            if not isinstance(exc.__cause__, pg_errors.UniqueViolation):
                raise
        return self._send(batch, messages)

    def _send(self, batch: str, messages: Sequence[NewMessage]) -> list[SendResult]:
        try:
            with self._conn() as conn:
                found = scalar(conn.execute(M["send"], {"batch": batch}).fetchone())
        except StoreError as exc:
            refusal = _refusal(exc, messages)
            if refusal is None:
                raise
            raise refusal from None
        return [
            mc.send_result(
                r["id"], r["created"], r["thread_id"], [(a, s) for a, s in r["recipients"]]
            )
            for r in (found[m.id] for m in messages)
        ]

    def _enqueue_handler_backlog(
        self, conn: psycopg.Connection[Any], policies: Sequence[TaskPolicy]
    ) -> None:
        for policy, agent in mc.handler_policies(policies):
            rows = conn.execute(M["open_deliveries"], {"agent": agent}).fetchall()
            tasks = mc.backlog_tasks(policy, agent, [(str(i), p) for i, p in rows])
            if tasks:
                self._insert_tasks(conn, tasks, "coord:handler")

    # -- reading ----------------------------------------------------------------------
    def take(self, agent: str, topic: str | None, by_priority: bool) -> InboxMessage | None:
        """Mark the first unread delivery read and return it."""
        address = None if topic is None else f"topic:{topic}"
        with self._conn() as conn:
            row = conn.execute(
                M[f"take_{inbox_order(by_priority)}"],
                {
                    "agent": agent,
                    "address": address,
                    **_delivery_template(events.MESSAGE_READ, agent),
                },
            ).fetchone()
        return None if row is None else self._entry(agent, str(row[0]))

    def mark_read(self, agent: str, message_id: str) -> InboxMessage | None:
        """Mark one delivery read (the first time) and return it."""
        with self._conn() as conn:
            params = {
                "agent": agent,
                "id": message_id,
                **_delivery_template(events.MESSAGE_READ, agent),
            }
            conn.execute(M["mark_read"], params)
        return self._entry(agent, message_id)

    def ack(self, agent: str, message_ids: Sequence[str]) -> list[str]:
        """Acknowledge deliveries, all or none."""
        ids = list(message_ids)
        with self._tx() as conn:
            held = {
                str(r[0]) for r in conn.execute(M["held_messages"], {"agent": agent, "ids": ids})
            }
            missing = [m for m in ids if m not in held]
            if missing:
                raise NotFound(
                    f"agent {agent!r} has no message {', '.join(missing)}", message_ids=missing
                )
            params = {"agent": agent, "ids": ids, **_delivery_template(events.MESSAGE_ACKED, agent)}
            return [str(r[0]) for r in conn.execute(M["ack"], params)]

    def expire_messages(self) -> int:
        """Mark deliveries past their TTL expired, with their events."""
        (template,) = ev.expired_events([("", "")])
        with self._conn() as conn:
            return int(scalar(conn.execute(M["expire"], ev.template(template)).fetchone()) or 0)


def _delivery_template(topic: str, agent: str) -> dict[str, Any]:
    """The event a change of ``agent``'s deliveries binds; the statement fills in the
    message of each delivery it changed."""
    return ev.template(ev.delivery_changed(topic, None, agent))


def _send_row(m: NewMessage) -> dict[str, Any]:
    return {
        "id": m.id,
        "sender": m.sender,
        "kind": m.to.kind.value,
        "name": m.to.name,
        "address": str(m.to),
        "subject": m.subject,
        "body": codec.raw(m.body_json),
        "priority": m.priority,
        "thread": m.thread_id,
        "reply_to": m.reply_to,
        "key": m.key,
        "ttl": m.ttl,
        "content_sha256": ev.content_digest(m),
    }


def _refusal(exc: StoreError, messages: Sequence[NewMessage]) -> CoordError | None:
    """The coord error a ``coord_send`` refusal (SQLSTATE CDxxx) stands for: the
    function names the reason, the message and the facts it found; the error itself
    is made by the same helpers the SQLite store uses, so both say the same."""
    cause = exc.__cause__
    if not isinstance(cause, psycopg.Error) or not (cause.sqlstate or "").startswith("CD"):
        return None
    reason = cause.diag.message_primary or ""
    data = codec.loads(cause.diag.message_detail or "{}")
    message = next(m for m in messages if m.id == data["message"])
    if reason == "unknown_sender":
        return mc.unknown_agent(message.sender, "sender")
    if reason == "unknown_recipient":
        return mc.unknown_agent(message.to.name, "recipient")
    if reason == "key_conflict":
        return mc.key_conflict(message, str(data["id"]))
    try:  # no_parent, thread_mismatch, no_thread: what resolving the thread refuses
        mc.resolve_thread(message, data.get("parent"), thread_exists=False)
    except CoordError as refusal:
        return refusal
    return None
