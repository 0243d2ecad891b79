"""The operations per noun, as typed Protocols: what every implementation (local
over the database, remote over HTTP) offers, with the same arguments, answers and
errors. A face (CLI, REST API, dashboard, MCP, A2A) calls these and nothing else."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from coord.domain.messages import SendResult
from coord.domain.pages import Page
from coord.domain.run_views import ArtifactInfo, RunCost, RunInfo, RunPlan, WorkflowInfo
from coord.domain.views import (
    AgentInfo,
    DeadLetterGroup,
    EventInfo,
    InboxMessage,
    MessageInfo,
    QueueStats,
    TaskInfo,
)
from coord.operations._sync.handles import RunHandle
from coord.operations.dossier import Dossier
from coord.operations.queries import Draft, EnqueueOptions, InboxQuery, RunFilter, TaskFilter
from coord.operations.results import Enqueued, Me, Subscription

StepsToReset = bool | Sequence[str]


class Agents(Protocol):
    """Agents, the caller, and topic subscriptions."""

    def me(self) -> Me:
        """The caller: its agent, role, permissions and authority domains."""
        ...

    def page(self, limit: int = 50, cursor: str | None = None) -> Page[AgentInfo]:
        """One page of the registered agents, by name."""
        ...

    def all(self) -> list[AgentInfo]:
        """Every registered agent, by name."""
        ...

    def get(self, name: str) -> AgentInfo:
        """One agent; ``NotFound`` if there is none."""
        ...

    def add(
        self,
        name: str,
        *,
        description: str | None = None,
        human: bool = False,
        domains: Sequence[str] = (),
        role: str | None = None,
    ) -> AgentInfo:
        """Register an agent (or bring back a removed one); ``Conflict`` if one of
        that name exists. Authority domains and a role need the admin permission; a
        role is set where the database is, never over HTTP (``InvalidInput``)."""
        ...

    def remove(self, name: str) -> None:
        """Mark an agent removed (its messages and subscriptions' history are kept)."""
        ...

    def subscribe(self, topic: str, agent: str | None = None) -> Subscription:
        """Subscribe an agent (default: the caller) to ``topic``."""
        ...

    def unsubscribe(self, topic: str, agent: str | None = None) -> Subscription:
        """End an agent's (default: the caller's) subscription to ``topic``."""
        ...


class Mail(Protocol):
    """Messages: sending, inboxes, reading, acknowledging, threads."""

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
    ) -> SendResult:
        """Send one message (see :class:`~coord.operations.queries.Draft`). With
        ``key``, sending it again returns the first one (``created`` False) and a
        different one raises ``IdempotencyConflict``."""
        ...

    def send_many(self, drafts: Sequence[Draft]) -> list[SendResult]:
        """Send a batch in one transaction: all of it is stored, or none."""
        ...

    def inbox_page(
        self, agent: str | None = None, query: InboxQuery | None = None, cursor: str | None = None
    ) -> Page[InboxMessage]:
        """One page (``query.limit`` messages, at most 500) of an inbox (default: the
        caller's). Marks nothing read."""
        ...

    def inbox(
        self, agent: str | None = None, query: InboxQuery | None = None
    ) -> list[InboxMessage]:
        """An inbox (default: the caller's), as ``query`` says. Marks nothing read."""
        ...

    def read(self, message_id: str, agent: str | None = None) -> InboxMessage:
        """One message of an inbox (default: the caller's), marked read."""
        ...

    def take(
        self, agent: str | None = None, *, topic: str | None = None, by_priority: bool = False
    ) -> InboxMessage | None:
        """The next unread message, marked read, without waiting (None: nothing
        unread). Two callers never get the same message."""
        ...

    def receive(
        self,
        agent: str | None = None,
        *,
        topic: str | None = None,
        timeout: float | None = None,
        by_priority: bool = False,
    ) -> InboxMessage | None:
        """Wait for the next unread message (of ``topic`` only, if given), mark it read
        and return it; None after ``timeout`` seconds (None: as long as it takes).
        Woken by the store's notifications, not by polling."""
        ...

    def ack(self, message_ids: str | Sequence[str], agent: str | None = None) -> list[str]:
        """Acknowledge messages of an inbox, all or none; the ids this call acknowledged."""
        ...

    def message(self, message_id: str) -> MessageInfo:
        """A message with each recipient's delivery state (for its sender, its
        recipients, or a reader of every inbox; anyone else: ``NotFound``)."""
        ...

    def message_events(self, message_id: str) -> list[EventInfo]:
        """A message's events, oldest first."""
        ...

    def thread(self, thread_id: str) -> list[MessageInfo]:
        """The messages of a thread (or of the thread of a message), oldest first."""
        ...


class Tasks(Protocol):
    """Tasks: enqueue, list, inspect, cancel, retry."""

    def enqueue(
        self,
        task: str,
        payload: dict[str, Any] | None = None,
        *,
        key: str | None = None,
        options: EnqueueOptions | None = None,
    ) -> Enqueued:
        """Enqueue one task of a registered name. With ``key``, enqueueing the same
        payload again returns the first task and another raises ``IdempotencyConflict``."""
        ...

    def enqueue_many(
        self,
        task: str,
        payloads: Sequence[dict[str, Any]],
        *,
        keys: Sequence[str | None] | None = None,
        options: EnqueueOptions | None = None,
    ) -> list[Enqueued]:
        """Enqueue a batch of one task name in one transaction: all or none."""
        ...

    def page(self, query: TaskFilter | None = None, cursor: str | None = None) -> Page[TaskInfo]:
        """One page (``query.limit`` tasks, at most 500) of the tasks, newest first."""
        ...

    def find(self, query: TaskFilter | None = None) -> list[TaskInfo]:
        """Tasks, newest first, as ``query`` says."""
        ...

    def get(self, task_id: str) -> TaskInfo:
        """One task; ``NotFound`` if there is none."""
        ...

    def events(self, task_id: str) -> list[EventInfo]:
        """A task's history, oldest first."""
        ...

    def cancel(self, task_id: str) -> TaskInfo:
        """Cancel a task that has not finished (one the caller enqueued, or any with
        manage_tasks); ``Conflict`` if it had finished."""
        ...

    def retry(self, task_id: str, *, reset_steps: StepsToReset = False) -> TaskInfo:
        """Retry a dead, failed or cancelled task now with fresh attempts;
        ``reset_steps`` (True, or step names) forgets its recorded steps first."""
        ...


class Queues(Protocol):
    """Queues."""

    def stats(self) -> list[QueueStats]:
        """Per queue: tasks in each state and the age of the oldest due task."""
        ...


class DeadLetters(Protocol):
    """Dead tasks: grouped by error, and sent back to the queue."""

    def groups(self) -> list[DeadLetterGroup]:
        """Dead tasks grouped by error type and message, with a sample task id."""
        ...

    def retry(
        self,
        task_ids: Sequence[str] | None = None,
        *,
        all: bool = False,
        reset_steps: StepsToReset = False,
    ) -> list[str]:
        """Send dead tasks back to the queue with fresh attempts: those named, or
        every one with ``all=True`` (naming none without it is refused); their ids.
        Naming a task that is not dead raises ``InvalidInput`` and retries nothing."""
        ...


class Runs(Protocol):
    """Workflows and their runs: plan, start, inspect, steer (signals, gates,
    budgets), wait. A workflow may require an authority domain, and its runs inherit
    it: a run the caller may not see answers as an unknown id does (``NotFound``).
    Controlling a run takes ``control_runs``, or ``start_run`` for a run the caller
    started; approving takes ``approve_gate`` and a person who did not start it."""

    def workflows(self) -> list[WorkflowInfo]:
        """The workflows registered in the database, by name."""
        ...

    def workflow(self, name: str) -> WorkflowInfo:
        """One registered workflow with its definition; ``NotFound`` if there is none."""
        ...

    def plan(self, workflow: str, input: Any = None) -> RunPlan:
        """What a run of a registered workflow would do (groups, budgets, gates);
        runs nothing. ``NotFound`` if no such workflow is registered."""
        ...

    def start(self, workflow: str, input: Any = None, *, key: str | None = None) -> RunHandle:
        """Start a run of a registered workflow and return its handle. With ``key``,
        starting it again with the same input returns the first run (``created``
        False) and another input raises ``IdempotencyConflict``."""
        ...

    def handle(self, run_id: str) -> RunHandle:
        """A handle on an existing run (nothing is looked up until it is used)."""
        ...

    def get(self, run_id: str) -> RunInfo:
        """One run with its phases; ``NotFound`` if there is none."""
        ...

    def page(self, query: RunFilter | None = None, cursor: str | None = None) -> Page[RunInfo]:
        """One page (``query.limit`` runs, at most 500) of the runs, newest first."""
        ...

    def find(self, query: RunFilter | None = None) -> list[RunInfo]:
        """Runs, newest first, as ``query`` says."""
        ...

    def events(self, run_id: str, after: int = 0) -> list[EventInfo]:
        """A run's history (its events and its tasks'), oldest first, after event
        id ``after`` (0: all of it)."""
        ...

    def cost(self, run_id: str) -> RunCost:
        """Usage per phase against each budget, and the run's total."""
        ...

    def artifacts(self, run_id: str) -> list[ArtifactInfo]:
        """The artifacts the run's tasks stored (``ctx.artifact``), oldest first, each
        with its provenance: phase, task and attempt, tool, inputs, digest."""
        ...

    def artifact(self, run_id: str, digest: str) -> bytes:
        """The bytes of one of the run's artifacts, by digest (``sha256:<hex>``):
        ``NotFound`` unless the run stored it, ``InvalidInput`` for what is no digest."""
        ...

    def dossier(self, run_id: str) -> Dossier:
        """The run's dossier (run, gates, cost, history, artifacts) as files, for the
        caller to write where it is: ``runs.dossier(run_id).write("DIR")``."""
        ...

    def pause(self, run_id: str) -> RunInfo:
        """Start nothing new in the run until it is resumed; ``Conflict`` unless it runs."""
        ...

    def resume(self, run_id: str) -> RunInfo:
        """Continue a paused run; ``Conflict`` unless it is paused."""
        ...

    def cancel(self, run_id: str) -> RunInfo:
        """Cancel a run: its tasks stop and its succeeded phases are compensated;
        ``Conflict`` if it had ended."""
        ...

    def retry(self, run_id: str, *, from_phase: str | None = None) -> RunInfo:
        """Run a failed or cancelled run again from its failed phase (or
        ``from_phase``), reusing the results of the phases before it."""
        ...

    def approve(self, run_id: str, phase: str, *, by: str | None = None) -> RunInfo:
        """Approve a phase awaiting a person's approval, as ``by`` (default: the
        caller; only code on the database names another person, and must name one)."""
        ...

    def reject(self, run_id: str, phase: str, reason: str, *, by: str | None = None) -> RunInfo:
        """Reject a phase awaiting approval, as ``by`` (as for :meth:`approve`): the
        run fails and compensates."""
        ...

    def waive(
        self,
        run_id: str,
        phase: str,
        *,
        expires: str | float,
        control: str,
        owner: str | None = None,
    ) -> RunInfo:
        """Waive a phase's gate until ``expires`` (seconds, or ``7d``), under the
        compensating ``control``; its owner is the caller (code on the database
        names one)."""
        ...

    def set_budget(
        self,
        run_id: str,
        *,
        phase: str | None = None,
        tokens: int | None = None,
        usd: float | None = None,
        tool_seconds: float | None = None,
    ) -> RunInfo:
        """Set limits on the run or one of its phases (at least one of them), then
        resume a run paused over budget as usual."""
        ...

    def wait(self, run_id: str, timeout: float | None = None) -> RunInfo:
        """Wait until the run ended or needs a person (paused, or a phase awaiting
        approval) and return it; ``WaitTimeout`` after ``timeout`` seconds (None: as
        long as it takes)."""
        ...


class Surface(Protocol):
    """Every operation, by noun: ``app.aio`` locally, ``coord.AsyncClient`` remotely."""

    @property
    def agents(self) -> Agents:
        """Agents, the caller, subscriptions."""
        ...

    @property
    def mail(self) -> Mail:
        """Messages and inboxes."""
        ...

    @property
    def tasks(self) -> Tasks:
        """Tasks."""
        ...

    @property
    def queues(self) -> Queues:
        """Queues."""
        ...

    @property
    def dead_letters(self) -> DeadLetters:
        """Dead tasks."""
        ...

    @property
    def runs(self) -> Runs:
        """Workflows and runs."""
        ...
