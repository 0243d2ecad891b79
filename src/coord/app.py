"""``coord.App``: where tasks are declared and the one place that wires the store, the
engine and the settings together (the composition root)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ParamSpec, TypeVar, overload

from coord.app_mailbox import MailboxFeatures
from coord.app_workflows import DeclaredWorkflows
from coord.connection import connect
from coord.domain.durations import parse_duration
from coord.domain.runs import TIMER_TASK
from coord.domain.tasks import Priority, RateLimit, TaskPolicy, TaskState
from coord.domain.views import TaskInfo
from coord.domain.workflows import WorkflowSpec
from coord.errors import ConfigError, InvalidInput, UnknownTask
from coord.operations._async.local import AsyncLocalSurface
from coord.operations._sync.local import (
    LocalAgents,
    LocalDeadLetters,
    LocalMail,
    LocalQueues,
    LocalSurface,
    LocalTasks,
)
from coord.operations._sync.local_runs import LocalRuns
from coord.operations.local_parts import LocalParts
from coord.ports.store import Store
from coord.runtime.cron import validate_cron
from coord.runtime.middleware import Middleware
from coord.runtime.queue import build_tasks
from coord.runtime.registry import Registry, Schedule, TaskDefinition
from coord.runtime.results import ResultWaiter, unwrap
from coord.runtime.shutdown import run_until_signalled
from coord.runtime.worker import Worker, WorkerConfig, WorkerStats
from coord.services import tasks as tasks_service
from coord.services.secrets import TaskSecrets
from coord.settings import Settings, load_settings, mask_url
from coord.storage.factory import notifier_for
from coord.storage.url import parse_database_url
from coord.workflows.definitions import Workflow
from coord.workflows.worker_hooks import EngineHooks, timer_task

P = ParamSpec("P")
R = TypeVar("R")
DurationLike = str | float | timedelta
TaskRef = TaskDefinition[..., Any] | str


@dataclass(frozen=True, slots=True)
class TaskHandle:
    """An enqueued task: its id, whether this enqueue created it (False when an
    idempotency key found it already), and a way to wait for its result."""

    id: str
    app: App
    created: bool = True

    def result(self, timeout: float | None = None) -> Any:
        """Block until the task finishes; return its result (see :meth:`App.result`)."""
        return self.app.result(self.id, timeout=timeout)

    async def result_async(self, timeout: float | None = None) -> Any:
        """Wait until the task finishes; return its result."""
        return await self.app.result_async(self.id, timeout=timeout)

    def info(self) -> TaskInfo:
        """The task as stored now."""
        return self.app.get_task(self.id)


class App(MailboxFeatures):
    """Declares tasks, schedules and agents; enqueues, sends, waits for results and
    messages, runs workers.

    ``database_url`` overrides ``COORD_DATABASE_URL``; the database is opened on
    first use (a new SQLite file gets the schema at once).
    """

    def __init__(
        self, database_url: str | None = None, *, settings: Settings | None = None
    ) -> None:
        self.settings = settings or load_settings(database_url=database_url)
        if settings is not None and database_url is not None:
            self.settings = settings.model_copy(update={"database_url": database_url})
        parse_database_url(self.settings.database_url)  # fail fast on a bad URL
        self.registry = Registry()
        self.middlewares: list[Middleware] = []
        self._store: Store | None = None
        self._waiter: ResultWaiter | None = None
        self._lock = threading.RLock()
        # ctx.secret(NAME): the box is built from the settings on the first read only.
        self._secrets = TaskSecrets(lambda: self.store, self._secret_keys)
        self._init_mailbox()
        self._workflows = DeclaredWorkflows(self._lock, lambda: self._store)
        self.registry.add_task(timer_task())  # the timers of runs' time boxes and waits
        parts = self.local_parts()
        self._surface = LocalSurface(parts)
        self._async_surface = AsyncLocalSurface(parts)

    def local_parts(self, actor: str | None = None) -> LocalParts:
        """What this App's surface works with: its store (opened on first use), its
        limits, and its plugin hooks (the lists themselves, so hooks registered
        later apply too). ``actor`` is recorded as who acted."""
        return LocalParts(
            store=lambda: self.store,
            settings=lambda: self.settings,
            local_actor=actor,
            send_hooks=self.sent_hooks,
            receive_hooks=self.received_hooks,
            waiter=self._messages,
            declared=self._workflows.record,
        )

    # -- the surface ------------------------------------------------------------------
    # The operations on the database, the same as a coord.Client's over HTTP.
    @property
    def agents(self) -> LocalAgents:
        """Agents and subscriptions (``coord.operations.Agents``)."""
        return self._surface.agents

    @property
    def mail(self) -> LocalMail:
        """Messages and inboxes (``coord.operations.Mail``)."""
        return self._surface.mail

    @property
    def tasks(self) -> LocalTasks:
        """Tasks by name (``coord.operations.Tasks``)."""
        return self._surface.tasks

    @property
    def queues(self) -> LocalQueues:
        """Queue statistics (``coord.operations.Queues``)."""
        return self._surface.queues

    @property
    def dead_letters(self) -> LocalDeadLetters:
        """Dead tasks (``coord.operations.DeadLetters``)."""
        return self._surface.dead_letters

    @property
    def runs(self) -> LocalRuns:
        """Workflows and runs (``coord.operations.Runs``): ``app.runs.start(name)``
        gives a :class:`coord.RunHandle`. The workflows this App declares are
        recorded first, as they are declared then."""
        return self._surface.runs

    @property
    def aio(self) -> AsyncLocalSurface:
        """The same operations for asyncio code: ``await app.aio.mail.send(...)``."""
        return self._async_surface

    def use_database(self, database_url: str) -> None:
        """Point this App at another database, before it has opened one (what
        ``coord --database-url URL worker --app ...`` does to the user's App)."""
        parse_database_url(database_url)
        with self._lock:
            if self._store is not None:
                raise ConfigError(
                    "this App has opened its database already: it cannot switch to "
                    f"{mask_url(database_url)} (was {mask_url(self.settings.database_url)})"
                )
            self.settings = self.settings.model_copy(update={"database_url": database_url})

    # -- declaring --------------------------------------------------------------------
    @overload
    def task(self, fn: Callable[P, R], /) -> TaskDefinition[P, R]: ...

    @overload
    def task(
        self,
        *,
        name: str | None = None,
        queue: str = "default",
        retries: int = 5,
        retry_backoff: DurationLike = 1.0,
        retry_backoff_max: DurationLike = 300.0,
        timeout: DurationLike | None = "10m",
        heartbeat: DurationLike | None = None,
        stall_after: int | None = None,
        priority: str | int = "normal",
        concurrency_key: str | None = None,
        concurrency_limit: int | None = None,
        rate_limit: str | None = None,
        rate_limit_key: str | None = None,
        cron: str | None = None,
    ) -> Callable[[Callable[P, R]], TaskDefinition[P, R]]: ...

    def task(
        self,
        fn: Callable[..., Any] | None = None,
        *,
        name: str | None = None,
        queue: str = "default",
        retries: int = 5,
        retry_backoff: DurationLike = 1.0,
        retry_backoff_max: DurationLike = 300.0,
        timeout: DurationLike | None = "10m",
        heartbeat: DurationLike | None = None,
        stall_after: int | None = None,
        priority: str | int = "normal",
        concurrency_key: str | None = None,
        concurrency_limit: int | None = None,
        rate_limit: str | None = None,
        rate_limit_key: str | None = None,
        cron: str | None = None,
    ) -> Any:
        """Register a handler ``(ctx, **payload)``; sync handlers run in threads.

        ``retries`` retries after the first attempt, backing off exponentially from
        ``retry_backoff`` up to ``retry_backoff_max``. ``timeout`` bounds one attempt.
        With ``heartbeat`` the handler must call ``ctx.heartbeat()`` at least that often
        or it is stalled after ``stall_after`` missed intervals. ``concurrency_key`` (a
        template such as ``"user:{user_id}"``) with ``concurrency_limit`` caps running
        tasks per key; ``rate_limit`` (``"10/s"``) caps starts per bucket
        (``rate_limit_key``, default the task name). ``cron`` enqueues the task (with
        an empty payload) at every occurrence.
        """

        def register(func: Callable[..., Any]) -> TaskDefinition[..., Any]:
            try:
                policy = TaskPolicy(
                    name=name or func.__name__,
                    queue=queue,
                    priority=Priority.parse(priority),
                    retries=retries,
                    retry_backoff=parse_duration(retry_backoff),
                    retry_backoff_max=parse_duration(retry_backoff_max),
                    timeout=None if timeout is None else parse_duration(timeout),
                    heartbeat=None if heartbeat is None else parse_duration(heartbeat),
                    stall_after=stall_after or self.settings.stall_after,
                    concurrency_key=concurrency_key,
                    concurrency_limit=concurrency_limit,
                    rate_limit=None if rate_limit is None else RateLimit.parse(rate_limit),
                    rate_limit_key=rate_limit_key,
                )
            except ValueError as exc:
                raise InvalidInput(f"@app.task {name or func.__name__}: {exc}") from None
            definition = TaskDefinition(func, policy)
            with self._lock:
                self.registry.add_task(definition)
                if self._store is not None:
                    self._store.register_policies([policy])
            if cron is not None:
                self.schedule(definition, cron)
            return definition

        return register if fn is None else register(fn)

    def schedule(
        self,
        task: TaskRef,
        cron: str,
        *,
        payload: Mapping[str, Any] | None = None,
        name: str | None = None,
        queue: str | None = None,
        priority: str | int | None = None,
    ) -> Schedule:
        """Enqueue ``task`` with ``payload`` at every occurrence of ``cron`` (UTC; a 6th
        field means seconds). Each occurrence becomes exactly one task, however many
        workers run."""
        definition = self._definition(task)
        try:
            validate_cron(cron)
            definition.check_payload(payload or {})
        except ValueError as exc:
            raise InvalidInput(f"schedule for {definition.name!r}: {exc}") from None
        schedule = Schedule(
            name=name or definition.name,
            task=definition.name,
            cron=cron,
            payload=dict(payload or {}),
            queue=queue,
            priority=None if priority is None else int(Priority.parse(priority)),
        )
        self.registry.add_schedule(schedule)
        return schedule

    def workflow(
        self,
        name: str,
        *,
        budget: Mapping[str, float] | None = None,
        description: str | None = None,
    ) -> Workflow:
        """Declare a workflow and return its builder: add phases with
        ``.phase(name, task=..., after=[...], ...)`` (the keys of the YAML format).
        It is validated and recorded when the App opens its database (or when a run
        of it is planned or started); ``ConfigError`` if the name is taken."""
        return self._workflows.declare(name, budget=budget, description=description)

    def add_workflow(self, workflow: WorkflowSpec | Workflow | str | Path) -> WorkflowSpec:
        """Declare a workflow given as a spec, a builder, or a YAML file path."""
        return self._workflows.add(workflow)

    def middleware(self, fn: Middleware) -> Middleware:
        """Register ``async def fn(call, call_next)`` around every handler call."""
        self.middlewares.append(fn)
        return fn

    def _definition(self, task: TaskRef) -> TaskDefinition[..., Any]:
        name = task if isinstance(task, str) else task.name
        definition = self.registry.tasks.get(name)
        if definition is None:
            raise UnknownTask(f"task {name!r} is not registered on this App", task=name)
        return definition

    # -- the store --------------------------------------------------------------------
    @property
    def store(self) -> Store:
        """The database, opened (and checked) on first use."""
        with self._lock:
            if self._store is None:
                store = connect(self.settings)
                try:
                    self._open_agents(store)
                    store.register_policies([d.policy for d in self.registry.tasks.values()])
                    self._workflows.opened(store)
                except BaseException:
                    store.close()
                    raise
                self._store = store
            return self._store

    def _secret_keys(self) -> tuple[str | None, str | None]:
        keys = self.settings.secret_keys
        return (None if keys is None else keys.get_secret_value(), self.settings.secret_keys_file)

    def _store_if_open(self) -> Store | None:
        return self._store

    def close(self) -> None:
        """Stop listening and close the database connections."""
        with self._lock:
            self._close_mailbox()
            if self._waiter is not None:
                self._waiter.close()
                self._waiter = None
            if self._store is not None:
                self._store.close()
                self._store = None

    def __enter__(self) -> App:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- enqueueing -------------------------------------------------------------------
    def enqueue(
        self,
        task: TaskRef,
        payload: Mapping[str, Any] | None = None,
        *,
        key: str | None = None,
        priority: str | int | None = None,
        delay: DurationLike | None = None,
        run_at: datetime | None = None,
        queue: str | None = None,
    ) -> TaskHandle:
        """Enqueue one task. With ``key``, enqueueing the same payload again returns the
        existing task and a different payload raises ``IdempotencyConflict``."""
        return self.enqueue_many(
            task,
            [payload or {}],
            keys=[key],
            priority=priority,
            delay=delay,
            run_at=run_at,
            queue=queue,
        )[0]

    def enqueue_many(
        self,
        task: TaskRef,
        payloads: Iterable[Mapping[str, Any]],
        *,
        keys: Sequence[str | None] | None = None,
        priority: str | int | None = None,
        delay: DurationLike | None = None,
        run_at: datetime | None = None,
        queue: str | None = None,
    ) -> list[TaskHandle]:
        """Enqueue a batch in one transaction: all of it is stored, or none."""
        payload_list = list(payloads)
        key_list = list(keys) if keys is not None else [None] * len(payload_list)
        options = tasks_service.enqueue_options(
            priority=priority, delay=delay, run_at=run_at, queue=queue
        )
        limit = self.settings.max_payload_bytes
        name = task if isinstance(task, str) else task.name
        definition = self.registry.tasks.get(name)
        if definition is None:  # declared by another App: use the policy it registered
            results = tasks_service.enqueue_by_name(
                self.store,
                name,
                payload_list,
                keys=key_list,
                options=options,
                max_payload_bytes=limit,
            )
        else:
            rows = build_tasks(
                definition.policy,
                payload_list,
                key_list,
                options,
                max_payload_bytes=limit,
                check=definition.check_payload,
            )
            results = self.store.enqueue(rows, None)
        return [TaskHandle(r.id, self, r.created) for r in results]

    async def enqueue_async(
        self,
        task: TaskRef,
        payload: Mapping[str, Any] | None = None,
        *,
        key: str | None = None,
        priority: str | int | None = None,
        delay: DurationLike | None = None,
        run_at: datetime | None = None,
        queue: str | None = None,
    ) -> TaskHandle:
        """:meth:`enqueue` without blocking the event loop."""
        return await asyncio.to_thread(
            self.enqueue,
            task,
            payload,
            key=key,
            priority=priority,
            delay=delay,
            run_at=run_at,
            queue=queue,
        )

    async def enqueue_many_async(
        self,
        task: TaskRef,
        payloads: Iterable[Mapping[str, Any]],
        *,
        keys: Sequence[str | None] | None = None,
        priority: str | int | None = None,
        delay: DurationLike | None = None,
        run_at: datetime | None = None,
        queue: str | None = None,
    ) -> list[TaskHandle]:
        """:meth:`enqueue_many` without blocking the event loop."""
        return await asyncio.to_thread(
            self.enqueue_many,
            task,
            list(payloads),
            keys=keys,
            priority=priority,
            delay=delay,
            run_at=run_at,
            queue=queue,
        )

    # -- results ----------------------------------------------------------------------
    def get_task(self, task_id: str) -> TaskInfo:
        """The task as stored now; ``NotFound`` if there is none."""
        return tasks_service.get_task(self.store, task_id)

    def _results(self) -> ResultWaiter:
        with self._lock:
            if self._waiter is None:
                store = self.store
                self._waiter = ResultWaiter(store, lambda: notifier_for(store, self.settings))
            return self._waiter

    def result(self, task_id: str, timeout: float | None = None) -> Any:
        """Block until the task finishes and return its result. Raises ``TaskFailed``
        (dead), ``TaskCancelled``, or ``WaitTimeout`` after ``timeout`` seconds."""
        return unwrap(self._results().wait(task_id, timeout))

    async def result_async(self, task_id: str, timeout: float | None = None) -> Any:
        """:meth:`result` without blocking the event loop."""
        return unwrap(await self._results().wait_async(task_id, timeout))

    # -- inspecting and managing ------------------------------------------------------
    # What the CLI's `coord task`, `coord queue` and `coord dlq` do, for programs.
    def list_tasks(
        self,
        *,
        state: TaskState | None = None,
        queue: str | None = None,
        name: str | None = None,
        limit: int = 50,
    ) -> list[TaskInfo]:
        """Tasks, newest first: at most ``limit`` (1 to 10,000), of that ``state``,
        ``queue`` and ``name`` when given."""
        return tasks_service.list_tasks(
            self.store, state=state, queue=queue, name=name, limit=limit
        )

    def cancel(self, task_id: str, *, actor: str | None = None) -> TaskInfo:
        """Cancel a task that has not finished and return it (a running one is stopped
        by its worker at its next lease renewal). ``actor`` is recorded in the
        ``task.cancelled`` event. Raises ``NotFound``, or ``Conflict`` if the task had
        already finished (succeeded, dead or cancelled)."""
        return tasks_service.cancel_task(self.store, task_id, actor=actor)

    def replay_dead(
        self,
        task_ids: Sequence[str] | None = None,
        *,
        reset_steps: bool | Sequence[str] = False,
        actor: str | None = None,
    ) -> list[str]:
        """Send dead tasks (all of them when ``task_ids`` is None) back to the queue
        with fresh attempts; return their ids. ``reset_steps`` (True, or step names)
        forgets their recorded steps first, so that they run again (see
        :meth:`retry_task`). Naming a task that is not dead raises ``InvalidInput``
        and replays nothing."""
        return tasks_service.replay_dead(self.store, task_ids, reset_steps=reset_steps, actor=actor)

    def retry_task(
        self, task_id: str, *, reset_steps: bool | Sequence[str] = False, actor: str | None = None
    ) -> TaskInfo:
        """Retry a dead, failed or cancelled task now, with fresh attempts, and return
        it. ``reset_steps=True`` forgets every recorded step (and the checkpoint),
        ``reset_steps=["fetch"]`` only those steps: they run again and their new
        results are used. Raises ``Conflict`` for a task in another state or of a
        run (retry the run), ``InvalidInput`` for a step the task never recorded."""
        return tasks_service.retry_task(self.store, task_id, reset_steps=reset_steps, actor=actor)

    # -- working ----------------------------------------------------------------------
    def default_queues(self) -> tuple[str, ...]:
        """Every queue this App's tasks and schedules use (or ``default``)."""
        queues = {d.policy.queue for d in self.registry.tasks.values() if d.name != TIMER_TASK}
        queues |= {s.queue for s in self.registry.schedules.values() if s.queue}
        return tuple(sorted(queues)) or ("default",)

    def worker(
        self,
        *,
        queues: Sequence[str] | None = None,
        concurrency: int | None = None,
        burst: bool = False,
        worker_id: str | None = None,
    ) -> Worker:
        """A worker for this App's tasks (run it with ``await worker.run()``)."""
        s = self.settings
        config = WorkerConfig(
            queues=tuple(queues) if queues else self.default_queues(),
            concurrency=concurrency or s.worker_concurrency,
            lease_seconds=s.lease_duration,
            poll_interval=s.poll_interval,
            claim_batch_size=s.claim_batch_size,
            shutdown_grace=s.shutdown_grace,
            burst=burst,
            cron_misfire_grace=s.cron_misfire_grace,
            max_payload_bytes=s.max_payload_bytes,
            max_artifact_bytes=s.max_artifact_bytes,
            ledger_seal_interval=s.ledger_seal_interval,
        )
        store = self.store
        return Worker(
            store,
            self.registry,
            config,
            notifier=notifier_for(store, s),
            middlewares=self.middlewares,
            worker_id=worker_id,
            run_hooks=EngineHooks(),
            secrets=self._secrets,
        )

    async def run_worker_async(
        self,
        *,
        queues: Sequence[str] | None = None,
        concurrency: int | None = None,
        burst: bool = False,
    ) -> WorkerStats:
        """Run a worker in the current event loop until it is stopped (or drained)."""
        worker = self.worker(queues=queues, concurrency=concurrency, burst=burst)
        return await worker.run()

    def run_worker(
        self,
        *,
        queues: Sequence[str] | None = None,
        concurrency: int | None = None,
        burst: bool = False,
    ) -> WorkerStats:
        """Run a worker until SIGTERM/SIGINT (running tasks get ``shutdown_grace`` to
        finish; a second signal releases them at once) or, with ``burst``, until no
        due task is left."""
        worker = self.worker(queues=queues, concurrency=concurrency, burst=burst)
        return asyncio.run(run_until_signalled(worker))
