"""Logic both stores share around their mailbox SQL: the events a change records,
idempotent-send resolution, thread rules and the handler tasks a delivery enqueues."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from coord.domain import codec
from coord.domain.ids import new_ids
from coord.domain.messages import (
    NewMessage,
    Recipient,
    SendResult,
    handler_agent,
    handler_task,
    handler_task_name,
)
from coord.domain.tasks import NewTask, TaskPolicy, policy_from_dict
from coord.errors import (
    IdempotencyConflict,
    InvalidInput,
    NotFound,
    unknown_parent,
    unknown_thread,
)


def same_message(
    message: NewMessage, address: str, subject: str, body: Any, priority: int, reply_to: str | None
) -> bool:
    """True when a keyed message found in the store is the one being sent again."""
    return (
        address == str(message.to)
        and subject == message.subject
        and body == codec.loads(message.body_json)
        and priority == message.priority
        and reply_to == message.reply_to
    )


def key_conflict(message: NewMessage, existing_id: str) -> IdempotencyConflict:
    """The error for a key reused with another message."""
    return IdempotencyConflict(
        f"agent {message.sender!r} sent a different message with key {message.key!r} "
        f"already ({existing_id})",
        message_id=existing_id,
        key=message.key,
    )


def unknown_agent(name: str, role: str) -> NotFound:
    """The error for a sender or recipient that is not a registered agent."""
    return NotFound(
        f"unknown {role} agent {name!r}: register it with `coord agent add {name}`",
        agent=name,
    )


def resolve_thread(message: NewMessage, parent_thread: str | None, thread_exists: bool) -> str:
    """The thread a message joins: its parent's, the named one, or its own."""
    if message.reply_to is not None:
        if parent_thread is None:
            raise unknown_parent(message.reply_to)
        if message.thread_id is not None and message.thread_id != parent_thread:
            raise InvalidInput(
                f"thread {message.thread_id} is not the thread of reply_to "
                f"{message.reply_to} ({parent_thread}); a reply joins its parent's thread"
            )
        return parent_thread
    if message.thread_id is not None:
        if not thread_exists:
            raise unknown_thread(message.thread_id)
        return message.thread_id
    return message.id


def handler_policy_names(agents: Iterable[str]) -> list[str]:
    """The task names whose policies say which recipients have a handler."""
    return sorted({handler_task_name(a) for a in agents})


def handler_policies(policies: Iterable[TaskPolicy]) -> list[tuple[TaskPolicy, str]]:
    """The agent-handler policies among ``policies``, with their agents."""
    out = []
    for policy in policies:
        agent = handler_agent(policy.name)
        if agent is not None:
            out.append((policy, agent))
    return out


def backlog_tasks(policy: TaskPolicy, agent: str, rows: Iterable[tuple[str, int]]) -> list[NewTask]:
    """Handler tasks for an agent's open ``(message_id, priority)`` deliveries."""
    rows = list(rows)
    return [
        handler_task(policy, task_id, message_id, priority)
        for task_id, (message_id, priority) in zip(new_ids(len(rows)), rows, strict=True)
    ]


def handler_tasks(
    policy_rows: Iterable[tuple[str, Any]],
    deliveries: Sequence[tuple[str, str, int]],
) -> list[NewTask]:
    """One handler task per ``(agent, message_id, priority)`` delivered to an agent
    whose handler policy is among ``policy_rows`` (``(name, policy json)``)."""
    policies = {}
    for name, policy in policy_rows:
        agent = handler_agent(name)
        if agent is not None:
            data = codec.loads(policy) if isinstance(policy, str) else policy
            policies[agent] = policy_from_dict(data)
    wanted = [d for d in deliveries if d[0] in policies]
    ids = new_ids(len(wanted))
    return [
        handler_task(policies[agent], task_id, message_id, priority)
        for task_id, (agent, message_id, priority) in zip(ids, wanted, strict=True)
    ]


def send_result(
    message_id: str, created: bool, thread_id: str, rows: Iterable[tuple[str, int]]
) -> SendResult:
    """A :class:`SendResult` from ``(agent, seq)`` rows."""
    return SendResult(
        id=message_id,
        created=created,
        thread_id=thread_id,
        recipients=tuple(Recipient(agent, seq) for agent, seq in rows),
    )
