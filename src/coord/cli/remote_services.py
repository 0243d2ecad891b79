"""The remote twins of the services the agent, messaging and task commands call:
the same arguments and answers, through :class:`coord.Client` (see
:mod:`coord.cli.remote`). What the server decides itself (who acts, the size
limits) is left to it: ``actor`` and ``max_payload_bytes`` are not sent."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from coord.cli.remote import twin_of
from coord.client import Client
from coord.domain.messages import NewMessage, Recipient, SendResult
from coord.domain.tasks import EnqueueResult, TaskState
from coord.domain.views import (
    AgentInfo,
    DeadLetterGroup,
    EventInfo,
    InboxMessage,
    MessageInfo,
    QueueStats,
    TaskInfo,
)
from coord.errors import CoordError, Forbidden, InvalidInput, NotFound
from coord.services import messages as mail
from coord.services import tasks


def _no_cursor(name: str, value: object) -> None:
    if value:  # the commands never page by hand; the Client follows the cursors
        raise CoordError(f"{name} is not supported through the API")


# -- agents --------------------------------------------------------------------------
@twin_of(mail.list_agents)
def list_agents(client: Client) -> list[AgentInfo]:
    """All agents."""
    return client.agents()


@twin_of(mail.get_agent)
def get_agent(client: Client, name: str) -> AgentInfo:
    """One agent."""
    return client.agent(name)


@twin_of(mail.subscribe)
def subscribe(client: Client, agent: str, topic: str, *, actor: str | None = None) -> bool:
    """Subscribe; whether it changed anything."""
    return client.subscribe(topic, agent).changed


@twin_of(mail.unsubscribe)
def unsubscribe(client: Client, agent: str, topic: str, *, actor: str | None = None) -> bool:
    """Unsubscribe; whether it changed anything."""
    return client.unsubscribe(topic, agent).changed


# -- messages ------------------------------------------------------------------------
def _recipients(client: Client, message_id: str, names: list[str]) -> tuple[Recipient, ...]:
    # The send answer names the recipients; their sequence numbers (what `coord
    # send -o json` prints locally) are in the message's deliveries.
    try:
        found = client.message(message_id)
    except (Forbidden, NotFound):
        return tuple(Recipient(name, 0) for name in names)
    return tuple(Recipient(d.agent, d.seq) for d in found.deliveries)


@twin_of(mail.send)
def send(client: Client, messages: Sequence[NewMessage]) -> list[SendResult]:
    """Send as the key's agent: a message naming another sender is refused (403)."""
    results = []
    for message in messages:  # the CLI sends one at a time
        sent = client.send(
            str(message.to),
            message.subject,
            json.loads(message.body_json),
            priority=message.priority,
            thread_id=message.thread_id,
            reply_to=message.reply_to,
            ttl=message.ttl,
            key=message.key,
            sender=message.sender,  # checked against the key's agent by the server
        )
        recipients = _recipients(client, sent.id, sent.recipients)
        results.append(SendResult(sent.id, sent.created, sent.thread_id, recipients))
    return results


@twin_of(mail.inbox)
def inbox(
    client: Client,
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
    """An inbox, page by page."""
    _no_cursor("after_seq", after_seq)
    return client.inbox(
        agent,
        unread=unread,
        by_priority=by_priority,
        thread_id=thread,
        sender=sender,
        topic=topic,
        limit=limit,
    )


@twin_of(mail.read)
def read(client: Client, agent: str, message: str) -> InboxMessage:
    """One message, marked read."""
    return client.read(message, agent)


@twin_of(mail.ack)
def ack(client: Client, agent: str, messages: Sequence[str]) -> list[str]:
    """Acknowledge, all or none."""
    if not messages:
        raise InvalidInput("nothing to acknowledge: no message ids")
    return client.ack(list(messages), agent)


@twin_of(mail.get_message)
def get_message(client: Client, message: str, *, reader: str | None = None) -> MessageInfo:
    """One message with its deliveries (whose: the server decides, by the key)."""
    return client.message(message)


@twin_of(mail.thread)
def thread(client: Client, thread_id: str, *, reader: str | None = None) -> list[MessageInfo]:
    """A thread (whose messages: the server decides, by the key)."""
    return client.thread(thread_id)


@twin_of(mail.message_events)
def message_events(client: Client, message: str, *, reader: str | None = None) -> list[EventInfo]:
    """A message's events (whose: the server decides, by the key)."""
    return client.message_events(message)


# -- tasks ---------------------------------------------------------------------------
@twin_of(tasks.enqueue_by_name)
def enqueue_by_name(
    client: Client,
    name: str,
    payloads: Sequence[Mapping[str, Any]],
    *,
    keys: Sequence[str | None] | None = None,
    options: Any = None,  # an EnqueueOptions (coord.runtime, which the CLI never imports)
    max_payload_bytes: int,
    actor: str | None = None,
) -> list[EnqueueResult]:
    """Enqueue one task, or a batch in one transaction."""
    priority = None if options is None or options.priority is None else int(options.priority)
    delay = None if options is None or not options.delay else float(options.delay)
    queue = None if options is None else options.queue
    if options is not None and options.run_at is not None:
        raise CoordError("run_at is not supported through the API: give a delay")
    given = list(keys) if keys is not None else [None] * len(payloads)
    if len(payloads) == 1:
        one = client.enqueue(
            name, payloads[0], key=given[0], priority=priority, delay=delay, queue=queue
        )
        return [EnqueueResult(one.id, one.created)]
    many = client.enqueue_many(
        name, payloads, keys=given, priority=priority, delay=delay, queue=queue
    )
    return [EnqueueResult(e.id, e.created) for e in many]


@twin_of(tasks.list_tasks)
def list_tasks(
    client: Client,
    *,
    state: TaskState | None = None,
    queue: str | None = None,
    name: str | None = None,
    limit: int = 50,
    before_id: str | None = None,
) -> list[TaskInfo]:
    """Tasks, newest first."""
    _no_cursor("before_id", before_id)
    return client.tasks(state=state, queue=queue, name=name, limit=limit)


@twin_of(tasks.get_task)
def get_task(client: Client, task_id: str) -> TaskInfo:
    """One task."""
    return client.task(task_id)


@twin_of(tasks.task_events)
def task_events(client: Client, task_id: str) -> list[EventInfo]:
    """A task's history."""
    return client.task_events(task_id)


@twin_of(tasks.cancel_task)
def cancel_task(client: Client, task_id: str, *, actor: str | None = None) -> TaskInfo:
    """Cancel a task."""
    return client.cancel_task(task_id)


@twin_of(tasks.queue_stats)
def queue_stats(client: Client) -> list[QueueStats]:
    """Per-queue counts."""
    return client.queues()


@twin_of(tasks.dead_letters)
def dead_letters(client: Client) -> list[DeadLetterGroup]:
    """Dead tasks by error."""
    return client.dead_letters()


@twin_of(tasks.replay_dead)
def replay_dead(
    client: Client,
    task_ids: Sequence[str] | None,
    *,
    reset_steps: bool | Sequence[str] = False,
    actor: str | None = None,
) -> list[str]:
    """Retry dead tasks."""
    return client.replay_dead(task_ids, all=task_ids is None, reset_steps=reset_steps)


@twin_of(tasks.retry_task)
def retry_task(
    client: Client,
    task_id: str,
    *,
    reset_steps: bool | Sequence[str] = False,
    actor: str | None = None,
) -> TaskInfo:
    """Retry one task."""
    return client.retry_task(task_id, reset_steps=reset_steps)
