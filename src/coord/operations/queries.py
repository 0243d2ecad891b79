"""The arguments that travel together, one definition each, for every face: what a
message to send is, which part of an inbox or of the tasks to list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

# A message to send is the domain's Draft (the services build messages from it): the
# surface's arguments are all found here.
from coord.domain.messages import Draft
from coord.domain.runs import RunState
from coord.domain.tasks import TaskState


@dataclass(frozen=True, slots=True)
class InboxQuery:
    """Which messages of an inbox to list, oldest first (critical first with
    ``by_priority``): only unread ones, one thread's, one sender's or one topic's when
    asked; only those with an inbox sequence number above ``after_seq`` when given (how a
    client pages a mailbox by sequence); at most ``limit`` (None: all)."""

    unread: bool = False
    by_priority: bool = False
    thread_id: str | None = None
    sender: str | None = None
    topic: str | None = None
    limit: int | None = 50
    after_seq: int | None = None


@dataclass(frozen=True, slots=True)
class TaskFilter:
    """Which tasks to list, newest first: of that ``state``, ``queue`` and ``name``
    when given; at most ``limit`` (None: all)."""

    state: TaskState | None = None
    queue: str | None = None
    name: str | None = None
    limit: int | None = 50


@dataclass(frozen=True, slots=True)
class EnqueueOptions:
    """How to enqueue: a priority, a delay, a queue other than the task's own."""

    priority: str | int | None = None
    delay: str | float | timedelta | None = None
    queue: str | None = None


@dataclass(frozen=True, slots=True)
class RunFilter:
    """Which runs to list, newest first: in that ``state`` and of that ``workflow``
    when given; at most ``limit`` (None: all). Runs of a workflow whose authority
    domain the caller lacks are left out."""

    state: RunState | None = None
    workflow: str | None = None
    limit: int | None = 50


__all__ = ["Draft", "EnqueueOptions", "InboxQuery", "RunFilter", "TaskFilter"]
