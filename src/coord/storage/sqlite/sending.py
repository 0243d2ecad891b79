"""A batch of sends on SQLite, planned under the write lock and written with a few
multi-row statements: lookups are cached per batch (senders, recipients, topics,
handler policies), mailbox sequences are read once per agent and moved on in memory,
and messages, deliveries and events are inserted together at the end."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from coord.domain import codec
from coord.domain.messages import AddressKind, NewMessage, SendResult
from coord.domain.tasks import NewTask
from coord.storage.rows import events as ev
from coord.storage.rows import mailbox as mc


class SendBatch:
    """Plans and writes one batch inside the caller's transaction."""

    def __init__(self, cur: sqlite3.Cursor, queries: Mapping[str, str], now: float) -> None:
        self._cur = cur
        self._q = queries
        self._now = now
        self._live: dict[str, bool] = {}
        self._topics: dict[str, list[str]] = {}
        self._everyone: list[str] | None = None
        self._last_seq: dict[str, int] = {}
        self._policies: dict[str, Any] = {}
        self._threads: dict[str, str] = {}  # messages of this batch: id -> thread
        self._message_rows: list[tuple[Any, ...]] = []
        self._delivery_rows: list[tuple[Any, ...]] = []
        self._events: list[ev.Event] = []
        self._handled: list[tuple[str, str, int]] = []
        self._senders: set[str] = set()

    def add(self, message: NewMessage) -> SendResult:
        """Plan one message; raise (and write nothing) if it is refused."""
        if message.key is not None:
            found = self._keyed(message)
            if found is not None:
                return found
        self._require(message.sender, "sender")
        thread_id = self._thread(message)
        names = self._recipients(message)
        expires_at = None if message.ttl is None else self._now + message.ttl
        rows = []
        for name in names:
            self._last_seq[name] = self._seq(name) + 1
            rows.append((name, self._last_seq[name]))
        self._message_rows.append(
            (
                message.id,
                message.sender,
                str(message.to),
                message.subject,
                message.body_json,
                message.priority,
                thread_id,
                message.reply_to,
                message.key,
                self._now,
                expires_at,
            )
        )
        self._delivery_rows += [
            (name, seq, message.id, message.priority, self._now, expires_at) for name, seq in rows
        ]
        result = mc.send_result(message.id, True, thread_id, rows)
        self._events += ev.sent_events(message, thread_id, result.recipients)
        self._handled += [(name, message.id, message.priority) for name in names]
        self._threads[message.id] = thread_id
        self._senders.add(message.sender)
        return result

    def write(self) -> list[NewTask]:
        """Insert everything planned but the events (:attr:`events`, which the caller
        inserts); return the handler tasks to enqueue."""
        cur, q, now = self._cur, self._q, self._now
        cur.executemany(q["insert_message_row"], self._message_rows)
        cur.executemany(q["insert_delivery"], self._delivery_rows)
        cur.executemany(
            q["set_last_seq"], [(seq, name) for name, seq in sorted(self._last_seq.items())]
        )
        cur.executemany(q["touch_agent_row"], [(now, name) for name in sorted(self._senders)])
        names = {name for name, _, _ in self._handled}
        missing = [n for n in mc.handler_policy_names(names) if n not in self._policies]
        if missing:
            found = dict(cur.execute(q["handler_policies"], {"names": codec.dumps(missing)}))
            self._policies.update({name: found.get(name) for name in missing})
        rows = [(name, policy) for name, policy in self._policies.items() if policy is not None]
        return mc.handler_tasks(rows, self._handled)

    @property
    def events(self) -> list[ev.Event]:
        """The events of the messages planned, in order."""
        return self._events

    @property
    def delivered(self) -> bool:
        """True if any message of the batch reached a mailbox."""
        return bool(self._delivery_rows)

    # -- lookups ------------------------------------------------------------------------
    def _keyed(self, message: NewMessage) -> SendResult | None:
        row = self._cur.execute(
            self._q["find_keyed_message"], {"sender": message.sender, "key": message.key}
        ).fetchone()
        if row is None:
            return None
        message_id, address, subject, body, priority, reply_to, thread_id = row
        if not mc.same_message(message, address, subject, codec.loads(body), priority, reply_to):
            raise mc.key_conflict(message, message_id)
        rows = self._cur.execute(self._q["message_deliveries_seq"], {"id": message_id})
        return mc.send_result(message_id, False, thread_id, rows.fetchall())

    def _require(self, name: str, role: str) -> None:
        if name not in self._live:
            row = self._cur.execute(self._q["live_agent"], {"name": name}).fetchone()
            self._live[name] = row is not None
        if not self._live[name]:
            raise mc.unknown_agent(name, role)

    def _thread(self, message: NewMessage) -> str:
        parent = None
        if message.reply_to is not None:
            parent = self._threads.get(message.reply_to)
            if parent is None:
                row = self._cur.execute(self._q["parent_thread"], {"id": message.reply_to})
                found = row.fetchone()
                parent = None if found is None else found[0]
        exists = False
        if message.reply_to is None and message.thread_id is not None:
            exists = message.thread_id in self._threads.values() or (
                self._cur.execute(
                    self._q["thread_exists"], {"thread": message.thread_id}
                ).fetchone()
                is not None
            )
        return mc.resolve_thread(message, parent, exists)

    def _recipients(self, message: NewMessage) -> list[str]:
        to = message.to
        if to.kind is AddressKind.AGENT:
            self._require(to.name, "recipient")
            return [to.name]
        if to.kind is AddressKind.TOPIC:
            if to.name not in self._topics:
                rows = self._cur.execute(self._q["topic_subscribers"], {"topic": to.name})
                self._topics[to.name] = [r[0] for r in rows]
            pool = self._topics[to.name]
        else:
            if self._everyone is None:
                self._everyone = [r[0] for r in self._cur.execute(self._q["live_agents"])]
            pool = self._everyone
        return [name for name in pool if name != message.sender]

    def _seq(self, name: str) -> int:
        if name not in self._last_seq:
            row = self._cur.execute(self._q["last_seq"], {"name": name}).fetchone()
            self._last_seq[name] = row[0]
        return self._last_seq[name]


def send_batch(
    cur: sqlite3.Cursor, queries: Mapping[str, str], messages: Sequence[NewMessage], now: float
) -> tuple[list[SendResult], list[ev.Event], list[NewTask], bool]:
    """Plan and write a batch: its results, its events (to insert), the handler tasks
    to enqueue, and whether anything was delivered."""
    batch = SendBatch(cur, queries, now)
    results = [batch.add(m) for m in messages]
    tasks = batch.write()
    return results, batch.events, tasks, batch.delivered
