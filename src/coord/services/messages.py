"""Mailbox use cases: agents, topics, sending, inboxes, reading, acknowledging and
threads. The CLI, the SDK and (later) the API call these, so every face validates
the same way and refuses bad input before anything is written."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from coord.domain import bounds, content
from coord.domain.durations import parse_duration
from coord.domain.ids import new_id
from coord.domain.messages import (
    MAX_KEY,
    MAX_SUBJECT,
    Address,
    AddressKind,
    Draft,
    NewAgent,
    NewMessage,
    SendResult,
    check_agent_name,
    check_topic,
)
from coord.domain.tasks import Priority
from coord.domain.views import AgentInfo, EventInfo, InboxMessage, MessageInfo
from coord.errors import InvalidInput, NotFound, unknown_parent, unknown_thread
from coord.ports.mailbox import InboxQuery
from coord.ports.store import Store

MAX_INBOX_LIMIT = 10_000
_MAX_TEXT = 1000


def _valid(check: Any, value: Any, field: str) -> Any:
    try:
        return check(value)
    except (content.ContentInvalid, bounds.OutOfRange) as exc:  # they name their field
        raise InvalidInput.of(exc) from None
    except ValueError as exc:
        raise InvalidInput(f"{field}: {exc}", field=field) from None


def _agent(name: str) -> str:
    """An agent name to look up: text without NUL (which PostgreSQL would refuse and
    SQLite would look for), else ``InvalidInput`` naming ``agent``, on both backends."""
    return str(_valid(lambda n: content.check_text(n, "agent"), name, "agent"))


def message_id(value: str, field: str = "message id") -> str:
    """Return a message or thread id in canonical form; refuse anything but a UUID."""
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        raise InvalidInput(
            f"{field}: {value!r} is not a message id (a UUID)", field=field
        ) from None


# -- agents ---------------------------------------------------------------------------
def add_agent(
    store: Store,
    name: str,
    *,
    role: str | None = None,
    domains: Sequence[str] = (),
    description: str | None = None,
    human: bool = False,
    actor: str | None = None,
) -> AgentInfo:
    """Register an agent; ``Conflict`` if one of that name exists."""
    _valid(check_agent_name, name, "name")
    texts = {"role": role, "description": description}
    texts.update({f"domains.{i}": domain for i, domain in enumerate(domains)})
    _valid(content.check_texts, texts, "name")
    if role is not None and not 0 < len(role) <= 100:
        raise InvalidInput("role: use 1-100 characters", field="role")
    for domain in domains:
        if not 0 < len(domain) <= 100:
            raise InvalidInput(f"domain {domain!r}: use 1-100 characters", field="domains")
    if description is not None and len(description) > _MAX_TEXT:
        raise InvalidInput(f"description: at most {_MAX_TEXT} characters", field="description")
    agent = NewAgent(name, role, tuple(dict.fromkeys(domains)), description, human)
    return store.add_agent(agent, actor)


def get_agent(store: Store, name: str) -> AgentInfo:
    """One agent; ``NotFound`` if there is none of that name."""
    found = store.get_agent(_agent(name))
    if found is None:
        raise NotFound(f"no agent {name!r}", agent=name)
    return found


def list_agents(store: Store) -> list[AgentInfo]:
    """Every agent, by name."""
    return store.list_agents()


def remove_agent(store: Store, name: str, *, actor: str | None = None) -> None:
    """Remove an agent (its messages are kept); ``NotFound`` if there is none."""
    if not store.remove_agent(_agent(name), actor):
        raise NotFound(f"no agent {name!r}", agent=name)


def subscribe(store: Store, agent: str, topic: str, *, actor: str | None = None) -> bool:
    """Subscribe an agent to a topic; False if it was subscribed already."""
    _valid(check_topic, topic, "topic")
    return store.subscribe(_agent(agent), topic, actor)


def check_topic_name(topic: str) -> str:
    """Return ``topic`` if valid; ``InvalidInput`` naming the problem otherwise."""
    return str(_valid(check_topic, topic, "topic"))


def unsubscribe(store: Store, agent: str, topic: str, *, actor: str | None = None) -> bool:
    """End a subscription; False if there was none."""
    _valid(check_topic, topic, "topic")
    return store.unsubscribe(_agent(agent), topic, actor)


# -- sending --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message to send, as a caller gives it (validated by :func:`build_message`)."""

    sender: str
    to: str
    subject: str
    body: Any = None
    priority: str | int = "normal"
    thread: str | None = None
    reply_to: str | None = None
    key: str | None = None
    ttl: str | float | timedelta | None = None


# Batches name the same few senders, recipients and priorities over and over: their
# checks are cached (by text, so a cached answer is always the one the check gives).
@functools.lru_cache(maxsize=4096)
def _agent_name(name: str) -> str:
    return check_agent_name(name)


@functools.lru_cache(maxsize=4096)
def _address(text: str) -> Address:
    return Address.parse(text)


@functools.lru_cache(maxsize=64)
def _priority(value: str | int) -> int:
    return int(Priority.parse(value))


def _valid_cached(check: Any, value: Any, field: str) -> Any:
    """:func:`_valid` through ``check``'s cache when ``value`` is text or a number
    (anything else, possibly unhashable, is checked uncached)."""
    if isinstance(value, str | int) and not isinstance(value, bool):
        return _valid(check, value, field)
    return _valid(check.__wrapped__, value, field)


def build_message(o: Draft, sender: str, *, max_bytes: int) -> NewMessage:
    """Validate a message sent as ``sender``; raise ``InvalidInput`` naming the field
    at fault."""
    sender = _valid_cached(_agent_name, sender, "from")
    to = _valid_cached(_address, o.to, "to")
    if not isinstance(o.subject, str) or not o.subject.strip():
        raise InvalidInput("subject: must not be empty", field="subject")
    if len(o.subject) > MAX_SUBJECT:
        raise InvalidInput(f"subject: at most {MAX_SUBJECT} characters", field="subject")
    try:
        content.check_texts({"subject": o.subject, "key": o.key})
        body_json = content.encode(o.body, "body")
    except content.ContentInvalid as exc:
        raise InvalidInput.of(exc) from None
    size = len(body_json.encode())
    if size > max_bytes:
        raise InvalidInput(
            f"body: {size} bytes, over the limit of {max_bytes} (COORD_MAX_MESSAGE_BYTES)",
            field="body",
        )
    priority = _valid_cached(_priority, o.priority, "priority")
    if o.key is not None and not 0 < len(o.key) <= MAX_KEY:
        raise InvalidInput(f"key: use 1-{MAX_KEY} characters", field="key")
    ttl = None if o.ttl is None else _valid(parse_duration, o.ttl, "ttl")
    if ttl is not None and ttl <= 0:
        raise InvalidInput("ttl: must be more than 0 seconds", field="ttl")
    return NewMessage(
        id=new_id(),
        sender=sender,
        to=to,
        subject=o.subject,
        body_json=body_json,
        priority=priority,
        thread_id=None if o.thread_id is None else message_id(o.thread_id, "thread"),
        reply_to=None if o.reply_to is None else message_id(o.reply_to, "reply_to"),
        key=o.key,
        ttl=ttl,
    )


def send(store: Store, messages: Sequence[NewMessage]) -> list[SendResult]:
    """Store and deliver validated messages, all or none. A ``reply_to`` or
    ``thread`` naming a message or thread its sender may not read is refused with
    the ``NotFound`` an unknown id gets (see :func:`check_references`)."""
    if not messages:
        raise InvalidInput("nothing to send: no messages")
    keys = [(m.sender, m.key) for m in messages if m.key is not None]
    if len(set(keys)) != len(keys):
        sender, key = next(k for k in keys if keys.count(k) > 1)
        raise InvalidInput(f"key {key!r} of agent {sender!r} is used twice in one batch")
    check_references(store, messages)
    return store.send(messages)


def check_references(store: Store, messages: Sequence[NewMessage]) -> None:
    """Refuse a batch whose ``reply_to`` or ``thread`` names a message or thread
    its sender may not read (one it neither sent nor was delivered: the rule of the
    store's ``readable_messages``), exactly as the store refuses an unknown id.

    No admin exception: a message is its sender's, on every face, whoever calls.
    Checking before the send is safe: messages and deliveries are never deleted,
    so what a sender may read stays readable. A message of the same batch may be
    named by its own sender or by the agent it is addressed to."""
    batch = {m.id: m for m in messages}
    parents: dict[str, set[str]] = {}
    threads: dict[str, set[str]] = {}
    for m in messages:
        if m.reply_to is not None:
            if not _batch_readable(batch, m.reply_to, m.sender):
                parents.setdefault(m.sender, set()).add(m.reply_to)
        elif m.thread_id is not None and not _batch_readable(batch, m.thread_id, m.sender):
            threads.setdefault(m.sender, set()).add(m.thread_id)
    readable: dict[str, set[str]] = {}
    for sender in sorted(parents.keys() | threads.keys()):
        if store.get_agent(sender) is None:
            continue  # the store refuses an unknown sender first, as it always has
        readable[sender] = store.readable_messages(
            sender, sorted(parents.get(sender, ()))
        ) | store.readable_threads(sender, sorted(threads.get(sender, ())))
    for m in messages:  # the first refusal in batch order, as the store would say it
        seen = readable.get(m.sender)
        if seen is None:
            continue
        if m.reply_to is not None:
            if m.reply_to in parents.get(m.sender, ()) and m.reply_to not in seen:
                raise unknown_parent(m.reply_to)
            continue
        thread_id = m.thread_id
        if thread_id in threads.get(m.sender, ()) and thread_id not in seen:
            raise unknown_thread(str(thread_id))


def _batch_readable(batch: dict[str, NewMessage], ref: str, sender: str) -> bool:
    """Whether ``ref`` is a message of this batch that ``sender`` may name: one it
    sends itself, or one addressed to it."""
    found = batch.get(ref)
    if found is None:
        return False
    return found.sender == sender or (
        found.to.kind is AddressKind.AGENT and found.to.name == sender
    )


# -- reading --------------------------------------------------------------------------
def inbox(
    store: Store,
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
    """An agent's inbox, oldest first (critical first with ``by_priority``). Messages
    past their TTL are recorded as expired first, so they never show."""
    get_agent(store, agent)
    store.expire_messages()
    if not 1 <= limit <= MAX_INBOX_LIMIT:
        raise InvalidInput(f"limit: use 1 to {MAX_INBOX_LIMIT}", field="limit")
    _valid(lambda v: bounds.whole(v, "after", high=bounds.MAX_ID), after_seq, "after")
    _valid(content.check_texts, {"from": sender}, "from")
    query = InboxQuery(
        agent=agent,
        unread=unread,
        by_priority=by_priority,
        thread_id=None if thread is None else message_id(thread, "thread"),
        sender=sender,
        topic=None if topic is None else _valid(check_topic, topic, "topic"),
        after_seq=after_seq,
        limit=limit,
    )
    return store.inbox(query)


def latest_sequence(store: Store, agent: str) -> int:
    """The highest sequence number an agent's mailbox has used (0 if none): where a
    follower starts."""
    get_agent(store, agent)
    return max(store.mailbox_sequences(agent), default=0)


def read(store: Store, agent: str, message: str) -> InboxMessage:
    """One message of an agent's inbox, marked read (one past its TTL reads as
    expired and is not marked)."""
    found = store.mark_read(_agent(agent), message_id(message))
    if found is None:
        get_agent(store, agent)
        raise NotFound(f"agent {agent!r} has no message {message}", message_id=message)
    return found


def take(
    store: Store, agent: str, *, topic: str | None = None, by_priority: bool = False
) -> InboxMessage | None:
    """The next unread message of an agent's inbox (of ``topic`` only, if given),
    marked read; None when nothing is unread. One statement picks and marks it, so
    two callers never get the same message."""
    get_agent(store, agent)
    if topic is not None:
        check_topic_name(topic)
    return store.take(agent, topic, by_priority)


def ack(store: Store, agent: str, messages: Sequence[str]) -> list[str]:
    """Acknowledge messages of an agent's inbox, all or none; return those that were
    not acknowledged before."""
    if not messages:
        raise InvalidInput("nothing to acknowledge: no message ids")
    get_agent(store, agent)
    return store.ack(agent, [message_id(m) for m in messages])


def get_message(store: Store, message: str, *, reader: str | None = None) -> MessageInfo:
    """A message with each recipient's delivery state. With ``reader``, only one
    that agent may read (it sent it or was delivered it): any other answers as an
    unknown id does, so its id tells nothing."""
    canonical = message_id(message)
    found = store.get_message(canonical)
    if found is None or not _readable(store, reader, [canonical]):
        raise NotFound(f"no message {message}", message_id=message)
    return found


def thread(store: Store, thread_id: str, *, reader: str | None = None) -> list[MessageInfo]:
    """Every message of a thread, oldest first. A message id of the thread is accepted
    too (its thread is shown). With ``reader``, only the messages that agent may read,
    and a thread (or message) with none answers as an unknown id does."""
    canonical = message_id(thread_id, "thread")
    messages = store.thread(canonical)
    if not messages:
        found = store.get_message(canonical)
        if found is not None and _readable(store, reader, [canonical]):
            messages = store.thread(found.thread_id)
    if reader is not None:
        shown = _readable(store, reader, [m.id for m in messages])
        messages = [m for m in messages if m.id in shown]
    if not messages:
        raise NotFound(f"no thread or message {thread_id}", thread_id=thread_id)
    return messages


def _readable(store: Store, reader: str | None, ids: list[str]) -> set[str]:
    """Of ``ids`` (messages that exist), those ``reader`` may read (None: any caller
    who may read every inbox, or the SDK: all of them)."""
    return set(ids) if reader is None else store.readable_messages(reader, ids)


def message_events(store: Store, message: str, *, reader: str | None = None) -> list[EventInfo]:
    """A message's events (sent, delivered, read, acked, expired), oldest first; with
    ``reader``, of a message that agent may read (see :func:`get_message`)."""
    get_message(store, message, reader=reader)
    return store.message_events(message_id(message))
