"""The SQLite mailbox: agents, topics, messages and deliveries (see
:class:`coord.ports.mailbox.MailboxStore`). Every write runs under the file's write
lock, so sequence numbers and recipient lists cannot change under a send."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from coord.domain import codec, events
from coord.domain.messages import NewAgent, NewMessage, SendResult
from coord.domain.tasks import TaskPolicy
from coord.domain.views import AgentInfo, InboxMessage
from coord.errors import Conflict, NotFound
from coord.storage.rows import events as ev
from coord.storage.rows import mailbox as mc
from coord.storage.shared.mailbox_reads import MailboxReads, inbox_order, mailbox_queries
from coord.storage.sql import load_queries
from coord.storage.sqlite.connection import PACKAGE, SqliteConnection
from coord.storage.sqlite.sending import send_batch

M = mailbox_queries(load_queries(PACKAGE, "mailbox.sql"), now=":now")


class SqliteMailbox(SqliteConnection, MailboxReads):
    """Mailbox half of the SQLite store."""

    _mailbox_queries = M

    # -- agents -----------------------------------------------------------------------
    def add_agent(self, agent: NewAgent, actor: str | None) -> AgentInfo:
        """Register an agent (or bring back a removed one)."""
        with self._errors(), self._tx() as (cur, now):
            added = cur.execute(
                M["add_agent"],
                {
                    "name": agent.name,
                    "role": agent.role,
                    "domains": codec.dumps(list(agent.domains)),
                    "description": agent.description,
                    "human": int(agent.human),
                    "now": now,
                },
            ).fetchone()
            if added is None:
                raise Conflict(f"agent {agent.name!r} exists already", agent=agent.name)
            event = ev.agent_event(events.AGENT_ADDED, agent.name, actor)
            self._insert_events(cur, [event], now)
        found = self.get_agent(agent.name)
        assert found is not None
        return found

    def remove_agent(self, name: str, actor: str | None) -> bool:
        """Remove an agent and its subscriptions; its messages stay."""
        with self._errors(), self._tx() as (cur, now):
            if cur.execute(M["remove_agent"], {"name": name, "now": now}).fetchone() is None:
                return False
            cur.execute(M["drop_subscriptions"], {"name": name})
            self._insert_events(cur, [ev.agent_event(events.AGENT_REMOVED, name, actor)], now)
        return True

    def subscribe(self, agent: str, topic: str, actor: str | None) -> bool:
        """Subscribe a live agent to a topic."""
        with self._errors(), self._tx() as (cur, now):
            self._require_agent(cur, agent, "subscribing")
            cur.execute(M["subscribe"], {"topic": topic, "agent": agent, "now": now})
            if cur.rowcount != 1:
                return False
            event = ev.agent_event(events.AGENT_SUBSCRIBED, agent, actor, topic=topic)
            self._insert_events(cur, [event], now)
        return True

    def unsubscribe(self, agent: str, topic: str, actor: str | None) -> bool:
        """End a subscription."""
        with self._errors(), self._tx() as (cur, now):
            self._require_agent(cur, agent, "unsubscribing")
            cur.execute(M["unsubscribe"], {"topic": topic, "agent": agent})
            if cur.rowcount != 1:
                return False
            event = ev.agent_event(events.AGENT_UNSUBSCRIBED, agent, actor, topic=topic)
            self._insert_events(cur, [event], now)
        return True

    @staticmethod
    def _require_agent(cur: sqlite3.Cursor, name: str, role: str) -> None:
        if cur.execute(M["live_agent"], {"name": name}).fetchone() is None:
            raise mc.unknown_agent(name, role)

    # -- sending ----------------------------------------------------------------------
    def send(self, messages: Sequence[NewMessage]) -> list[SendResult]:
        """Store and deliver messages in one transaction; enqueue handler tasks."""
        if not messages:
            return []
        with self._errors(), self._tx() as (cur, now):
            results, sent, tasks, delivered = send_batch(cur, M, messages, now)
            self._insert_events(cur, sent, now)
            senders = {m.id: m.sender for m in messages}
            for task in tasks:  # a handler task's key is its message id
                assert task.key is not None
                self._insert_tasks(cur, [task], senders[task.key], now)
        if delivered:
            self.signals.fire_message()
        if tasks:
            self.signals.fire_due()
        return results

    def _enqueue_handler_backlog(
        self, cur: sqlite3.Cursor, policies: Sequence[TaskPolicy], now: float
    ) -> None:
        for policy, agent in mc.handler_policies(policies):
            rows = cur.execute(M["open_deliveries"], {"agent": agent, "now": now}).fetchall()
            tasks = mc.backlog_tasks(policy, agent, rows)
            if tasks:
                self._insert_tasks(cur, tasks, "coord:handler", now)

    # -- reading ----------------------------------------------------------------------
    def take(self, agent: str, topic: str | None, by_priority: bool) -> InboxMessage | None:
        """Mark the first unread delivery read and return it."""
        address = None if topic is None else f"topic:{topic}"
        with self._errors(), self._tx() as (cur, now):
            row = cur.execute(
                M[f"first_unread_{inbox_order(by_priority)}"],
                {"agent": agent, "now": now, "address": address},
            ).fetchone()
            if row is None:
                return None
            (message_id,) = cur.execute(
                M["mark_read_seq"], {"agent": agent, "seq": row[0], "now": now}
            ).fetchone()
            cur.execute(M["touch_agent"], {"name": agent, "now": now})
            self._insert_events(cur, ev.state_events(events.MESSAGE_READ, [message_id], agent), now)
        return self._entry(agent, message_id)

    def mark_read(self, agent: str, message_id: str) -> InboxMessage | None:
        """Mark one delivery read (the first time) and return it."""
        with self._errors(), self._tx() as (cur, now):
            changed = cur.execute(
                M["mark_read"], {"agent": agent, "id": message_id, "now": now}
            ).fetchone()
            if changed is not None:
                cur.execute(M["touch_agent"], {"name": agent, "now": now})
                self._insert_events(
                    cur, ev.state_events(events.MESSAGE_READ, [message_id], agent), now
                )
        return self._entry(agent, message_id)

    def ack(self, agent: str, message_ids: Sequence[str]) -> list[str]:
        """Acknowledge deliveries, all or none."""
        ids = codec.dumps(list(message_ids))
        with self._errors(), self._tx() as (cur, now):
            held = {r[0] for r in cur.execute(M["held_messages"], {"agent": agent, "ids": ids})}
            missing = [m for m in message_ids if m not in held]
            if missing:
                raise NotFound(
                    f"agent {agent!r} has no message {', '.join(missing)}", message_ids=missing
                )
            acked = [r[0] for r in cur.execute(M["ack"], {"agent": agent, "ids": ids, "now": now})]
            if acked:
                cur.execute(M["touch_agent"], {"name": agent, "now": now})
            self._insert_events(cur, ev.state_events(events.MESSAGE_ACKED, acked, agent), now)
        return acked

    def expire_messages(self) -> int:
        """Mark deliveries past their TTL expired."""
        with self._errors(), self._tx(durable=False) as (cur, now):
            rows = cur.execute(M["expire"], {"now": now}).fetchall()
            self._insert_events(cur, ev.expired_events(rows), now)
        return len(rows)
