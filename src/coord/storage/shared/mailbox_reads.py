"""Mailbox reads written once for both stores: the same named queries, differing only in how a
list of ids is bound and how rows are read (:class:`RowReader`)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from coord.domain.views import AgentInfo, EventInfo, InboxMessage, MessageInfo
from coord.ports.mailbox import InboxQuery
from coord.storage.rows.reader import DELIVERY_COLUMNS, INBOX_COLUMNS, MESSAGE_COLUMNS
from coord.storage.shared.session import Dialect
from coord.storage.sql import specialize

_INBOX_ORDERS = {"by_seq": "d.seq", "by_priority": "d.priority DESC, d.seq"}


def mailbox_queries(queries: dict[str, str], now: str) -> dict[str, str]:
    """A dialect's mailbox queries with the shared column lists filled in (``now``: how
    the dialect says "now"), and one variant per inbox order."""
    constants = {
        "inbox_columns": INBOX_COLUMNS,
        "message_columns": MESSAGE_COLUMNS,
        "delivery_columns": DELIVERY_COLUMNS,
        "now": now,
    }
    return specialize(queries, constants, "inbox_order", _INBOX_ORDERS)


def inbox_order(by_priority: bool) -> str:
    """The suffix of the query variant for an inbox order."""
    return "by_priority" if by_priority else "by_seq"


class MailboxReads(Dialect):
    """Read methods of the mailbox port over a store's ``_dict_rows``."""

    _mailbox_queries: Mapping[str, str]

    def _agents(self, name: str | None) -> list[AgentInfo]:
        q = self._mailbox_queries
        topics: dict[str, list[str]] = {}
        for row in self._dict_rows(q["agent_topics"], {"name": name}):
            topics.setdefault(row["agent"], []).append(row["topic"])
        rows = self._dict_rows(q["list_agents"], {"name": name})
        return [self._reader.agent(r, topics.get(r["name"], [])) for r in rows]

    def get_agent(self, name: str) -> AgentInfo | None:
        """One live agent."""
        found = self._agents(name)
        return found[0] if found else None

    def list_agents(self) -> list[AgentInfo]:
        """Every live agent, by name."""
        return self._agents(None)

    def inbox(self, query: InboxQuery) -> list[InboxMessage]:
        """Deliveries of one mailbox, oldest first or critical first."""
        params = {
            "agent": query.agent,
            "after": query.after_seq,
            "now": time.time(),
            "unread": query.unread,
            "thread": query.thread_id,
            "sender": query.sender,
            "address": None if query.topic is None else f"topic:{query.topic}",
            "limit": query.limit,
        }
        sql = self._mailbox_queries[f"inbox_{inbox_order(query.by_priority)}"]
        return [self._reader.inbox_message(r) for r in self._dict_rows(sql, params)]

    def _entry(self, agent: str, message_id: str) -> InboxMessage | None:
        params = {"agent": agent, "id": message_id, "now": time.time()}
        rows = self._dict_rows(self._mailbox_queries["inbox_entry"], params)
        return self._reader.inbox_message(rows[0]) if rows else None

    def get_message(self, message_id: str) -> MessageInfo | None:
        """A message with its deliveries."""
        found = self._messages(self._mailbox_queries["get_message"], {"id": message_id})
        return found[0] if found else None

    def thread(self, thread_id: str) -> list[MessageInfo]:
        """The messages of a thread, oldest first."""
        return self._messages(self._mailbox_queries["thread_messages"], {"thread": thread_id})

    def readable_messages(self, agent: str, message_ids: list[str]) -> set[str]:
        """Of ``message_ids``, those ``agent`` sent or was delivered."""
        return self._readable("readable_messages", "id", agent, message_ids)

    def readable_threads(self, agent: str, thread_ids: list[str]) -> set[str]:
        """Of ``thread_ids``, the threads holding a message ``agent`` may read."""
        return self._readable("readable_threads", "thread_id", agent, thread_ids)

    def _readable(self, query: str, column: str, agent: str, ids: list[str]) -> set[str]:
        if not ids:
            return set()
        params = {"agent": agent, "ids": self._id_list(ids)}
        return {str(r[column]) for r in self._dict_rows(self._mailbox_queries[query], params)}

    def _messages(self, sql: str, params: dict[str, Any]) -> list[MessageInfo]:
        rows = self._dict_rows(sql, params)
        ids = self._id_list([str(r["id"]) for r in rows])
        # "now" is the SQLite clock; PostgreSQL's queries use now() and ignore it.
        params = {"ids": ids, "now": time.time()}
        deliveries = self._dict_rows(self._mailbox_queries["deliveries_of"], params)
        return self._reader.messages(rows, deliveries)

    def message_events(self, message_id: str) -> list[EventInfo]:
        """A message's events, oldest first."""
        rows = self._dict_rows(self._mailbox_queries["message_events"], {"id": message_id})
        return [self._reader.event(r) for r in rows]

    def mailbox_sequences(self, agent: str) -> list[int]:
        """The sequence numbers of one mailbox."""
        rows = self._dict_rows(self._mailbox_queries["mailbox_sequences"], {"agent": agent})
        return [r["seq"] for r in rows]
