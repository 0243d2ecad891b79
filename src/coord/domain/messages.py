"""Agents and messages: names, addresses, delivery states and the records the mailbox
moves around.

An address (``TO``) is an agent name, ``topic:NAME`` (every subscriber of the topic)
or ``all`` (every agent but the sender). A message is stored once and delivered as
one row per recipient, numbered by a gap-free per-mailbox sequence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from coord.domain.tasks import NewTask, TaskPolicy

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_TOPIC = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-/]{0,127}$")
TOPIC_PREFIX = "topic:"
ALL = "all"
MAX_SUBJECT = 500
MAX_KEY = 500
HANDLER_PREFIX = "agent:"  # the task name of an agent's message handler


class DeliveryState(StrEnum):
    """Where one recipient's copy of a message is."""

    DELIVERED = "delivered"
    READ = "read"
    ACKED = "acked"
    EXPIRED = "expired"


class AddressKind(StrEnum):
    """What a ``TO`` names."""

    AGENT = "agent"
    TOPIC = "topic"
    ALL = "all"


def check_agent_name(name: str) -> str:
    """Return ``name`` if it is a valid agent name; raise ``ValueError`` saying why not."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            f"invalid agent name {name!r}: use 1-64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    if name == ALL:
        raise ValueError("'all' is reserved (it addresses every agent)")
    return name


def check_topic(topic: str) -> str:
    """Return ``topic`` if it is a valid topic name; raise ``ValueError`` saying why not."""
    if not isinstance(topic, str) or not _TOPIC.match(topic):
        raise ValueError(
            f"invalid topic {topic!r}: use 1-128 letters, digits, '_', '.', '-' or '/', "
            "starting with a letter or digit"
        )
    return topic


@dataclass(frozen=True, slots=True)
class Address:
    """A parsed ``TO``."""

    kind: AddressKind
    name: str  # the agent or topic name; "" for all

    @classmethod
    def parse(cls, text: str) -> Address:
        """Parse ``NAME``, ``topic:NAME`` or ``all``."""
        if text == ALL:
            return cls(AddressKind.ALL, "")
        if text.startswith(TOPIC_PREFIX):
            return cls(AddressKind.TOPIC, check_topic(text[len(TOPIC_PREFIX) :]))
        return cls(AddressKind.AGENT, check_agent_name(text))

    def __str__(self) -> str:
        if self.kind is AddressKind.ALL:
            return ALL
        if self.kind is AddressKind.TOPIC:
            return TOPIC_PREFIX + self.name
        return self.name


@dataclass(frozen=True, slots=True)
class NewAgent:
    """An agent to register."""

    name: str
    role: str | None = None
    domains: tuple[str, ...] = ()
    description: str | None = None
    human: bool = False


@dataclass(frozen=True, slots=True)
class Draft:
    """One message to send: to an agent, ``topic:NAME`` (its subscribers but the
    sender) or ``all`` (every agent but the sender).

    ``sender`` is the caller when left out; over the API it may only name the caller
    (another name is refused, never honoured), while code on the database names the
    agent it sends as. A reply (``reply_to``) joins its parent's thread; ``key`` makes
    sending it again return the first one; ``ttl`` makes it expire from inboxes."""

    to: str
    subject: str
    body: Any = None
    priority: str | int = "normal"
    thread_id: str | None = None
    reply_to: str | None = None
    ttl: str | float | timedelta | None = None
    key: str | None = None
    sender: str | None = None


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A validated message to store and deliver.

    ``thread_id`` None means "the thread of ``reply_to``, or a new thread rooted at
    this message"; the store resolves it in the sending transaction.
    """

    id: str
    sender: str
    to: Address
    subject: str
    body_json: str
    priority: int
    thread_id: str | None = None
    reply_to: str | None = None
    key: str | None = None
    ttl: float | None = None


@dataclass(frozen=True, slots=True)
class Recipient:
    """One delivery a send made: the mailbox and its sequence number there."""

    agent: str
    seq: int


@dataclass(frozen=True, slots=True)
class SendResult:
    """What a send did: the message id, whether this call created it (False when an
    idempotency key found it), its thread and its deliveries."""

    id: str
    created: bool
    thread_id: str
    recipients: tuple[Recipient, ...]


def handler_task_name(agent: str) -> str:
    """The task name under which an agent's message handler is registered."""
    return HANDLER_PREFIX + agent


def handler_agent(task_name: str) -> str | None:
    """The agent whose handler a task name is, or None for an ordinary task."""
    return task_name[len(HANDLER_PREFIX) :] if task_name.startswith(HANDLER_PREFIX) else None


def handler_task(policy: TaskPolicy, task_id: str, message_id: str, priority: int) -> NewTask:
    """The task that runs an agent's handler for one delivered message.

    The message id is the idempotency key, so a message is handed to the handler of
    each recipient once however often deliveries are replayed; the message's
    priority is the task's, so a backlog is handled critical first.
    """
    return NewTask.of(
        policy,
        id=task_id,
        payload_json=f'{{"message_id":"{message_id}"}}',
        key=message_id,
        priority=priority,
        concurrency_key=policy.concurrency_key,  # a handler's key is the literal agent key
    )
