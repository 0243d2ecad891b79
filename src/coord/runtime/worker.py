"""The worker: claims tasks in batches, runs them, and records their outcomes.

Five loops share one asyncio event loop:

* the claim loop leases as many due tasks as there are free slots, in one query, and
  sleeps until a wake-up (``NOTIFY``, a commit seen in the SQLite file, a task of
  its own finishing) or the next delayed task is due;
* the completion loop writes outcomes in batches: everything that finished while the
  previous batch was committing goes into the next one (group commit);
* the lease keeper renews the leases of everything this worker holds in one UPDATE,
  sends heartbeats promptly, stops handlers that missed their heartbeats (stalled)
  or whose lease the store refused (fenced out);
* the sweeper sends tasks whose lease expired (their worker died) back to pending;
* the sealer seals new events into the audit ledger (``coord.domain.ledger``) every
  ``ledger_seal_interval``, one short transaction per batch.

Store calls are blocking, so they run on a small I/O thread pool (one thread for
SQLite, which has a single writer anyway).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import os
import random
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from coord.domain.ids import new_id
from coord.domain.runs import EagerClaim
from coord.domain.tasks import ClaimedTask, Outcome, TaskState
from coord.errors import StoreError
from coord.ports.ledger import SEAL_BATCH
from coord.ports.runs import RunOutcomeStored
from coord.ports.store import Notifier, Store
from coord.runtime.attempt import Attempt, StopReason
from coord.runtime.context import AttemptServices, SecretReader
from coord.runtime.cron import CronScheduler
from coord.runtime.execution import AttemptRunner
from coord.runtime.middleware import Middleware
from coord.runtime.registry import Registry
from coord.runtime.run_hooks import RunHooks
from coord.runtime.run_scope import DEFAULT_MAX_ARTIFACT_BYTES

logger = logging.getLogger(__name__)
T = TypeVar("T")

_MAX_COMPLETION_BATCH = 1000
_WAITING = (TaskState.PENDING, TaskState.FAILED)
_WATCHDOG_TICK = 0.05  # seconds: the precision of timeouts and stall detection
_HEARTBEAT_FLUSH_GAP = 0.2  # seconds between heartbeat-triggered renewals, at most one
_STORE_RETRY_MAX = 2.0  # seconds between retries while the store is unreachable
_RECONCILE_AFTER = 5.0  # seconds a run may sit idle with no live task before a look


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """How a worker runs."""

    queues: tuple[str, ...] = ("default",)
    concurrency: int = 10
    lease_seconds: float = 10.0
    poll_interval: float = 1.0
    claim_batch_size: int = 200
    shutdown_grace: float = 30.0
    burst: bool = False
    cron_misfire_grace: float = 60.0
    max_payload_bytes: int = 1_048_576
    max_artifact_bytes: int = DEFAULT_MAX_ARTIFACT_BYTES
    ledger_seal_interval: float = 1.0  # seconds between sealing passes of the audit ledger

    def __post_init__(self) -> None:
        if not self.queues:
            raise ValueError("a worker needs at least one queue")
        if self.concurrency < 1:
            raise ValueError("concurrency must be >= 1")


@dataclass(slots=True)
class WorkerStats:
    """What a worker did (also logged when it stops)."""

    claimed: int = 0
    succeeded: int = 0
    retried: int = 0
    dead: int = 0
    stalled: int = 0
    released: int = 0
    lease_lost: int = 0
    renewals_refused: int = 0
    completions_refused: int = 0
    eager: int = 0  # next phases started without a claim (see _store_run_outcome)
    recovered: int = 0
    store_errors: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counters as a plain dict."""
        return asdict(self)


def default_worker_id() -> str:
    """``host:pid:random``: unique per worker process, readable in events."""
    return f"{socket.gethostname()}:{os.getpid()}:{new_id()[-8:]}"


@dataclass(slots=True)
class _Wake:
    """An asyncio event that other threads may set."""

    loop: asyncio.AbstractEventLoop
    event: asyncio.Event = field(default_factory=asyncio.Event)

    def set_threadsafe(self) -> None:
        self.loop.call_soon_threadsafe(self.event.set)


class Worker:
    """Runs the tasks of ``registry`` from ``store``; see the module docstring."""

    def __init__(
        self,
        store: Store,
        registry: Registry,
        config: WorkerConfig,
        *,
        notifier: Notifier | None = None,
        middlewares: Sequence[Middleware] = (),
        worker_id: str | None = None,
        run_hooks: RunHooks | None = None,
        secrets: SecretReader | None = None,
    ) -> None:
        self.store = store
        self.secrets = secrets  # what ctx.secret(NAME) reads with
        self.run_hooks = run_hooks
        self.registry = registry
        self.config = config
        self.notifier = notifier
        self.middlewares = tuple(middlewares)
        self.id = worker_id or default_worker_id()
        self.stats = WorkerStats()
        self._active: dict[str, Attempt] = {}  # handler running
        self._store_healthy = True  # the last claim succeeded
        self._unflushed: dict[str, Attempt] = {}  # handler done, outcome not yet stored
        self._stopping = False
        self._grace = config.shutdown_grace
        self._due_checked_at = -math.inf  # when seconds_until_due last answered
        self._next_due: float | None = None  # its answer, on the monotonic clock
        self._due_dirty = False
        self._reserved = 0  # slots promised to claims in flight
        self._charged_runs: set[str] = set()  # runs whose budgets a renewal charged

    # -- lifecycle --------------------------------------------------------------------
    @property
    def running(self) -> int:
        """How many handlers are running now."""
        return len(self._active)

    def stop(self, *, immediate: bool = False) -> None:
        """Stop claiming; running tasks get ``shutdown_grace`` (0 if immediate) to finish."""
        self._stopping = True
        if immediate:
            self._grace = 0.0
        if hasattr(self, "_wake"):
            self._wake.event.set()
            self._slot_freed.set()

    async def run(self) -> WorkerStats:
        """Run until :meth:`stop` (or, in burst mode, until no due task is left)."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._loop_thread = threading.get_ident()
        self._wake = _Wake(loop)
        self._slot_freed = asyncio.Event()
        self._beat = asyncio.Event()
        self._outcomes: asyncio.Queue[Outcome] = asyncio.Queue()
        self._io = ThreadPoolExecutor(self.store.io_threads, thread_name_prefix="coord-io")
        services = AttemptServices(
            store=self.store,
            owner=self.id,
            loop=loop,
            io=self._io,
            wake_keeper=self._wake_keeper,
            max_artifact_bytes=self.config.max_artifact_bytes,
            read_secret=self.secrets,
        )
        self._runner = AttemptRunner(
            self.registry, services, self.middlewares, handler_threads=self.config.concurrency * 2
        )
        # A burst worker claims until nothing is due and then exits: wake-ups would only
        # cost it a connection and the listener's shutdown.
        listener = None if self.config.burst else self.notifier
        if listener is not None:
            listener.start(on_due=self._wake.set_threadsafe, on_done=lambda: None)
        logger.info(
            "worker %s started: queues=%s concurrency=%d lease=%gs",
            self.id,
            ",".join(self.config.queues),
            self.config.concurrency,
            self.config.lease_seconds,
        )
        helpers = [
            loop.create_task(self._completion_loop(), name="coord-completions"),
            loop.create_task(self._lease_loop(), name="coord-leases"),
            loop.create_task(self._watchdog(), name="coord-watchdog"),
            loop.create_task(self._sweep_loop(), name="coord-sweeper"),
            loop.create_task(self._seal_loop(), name="coord-sealer"),
        ]
        self._charged = asyncio.Event()
        if self.run_hooks is not None:
            helpers.append(loop.create_task(self._budget_loop(), name="coord-budgets"))
        cron = CronScheduler(self.registry, self.store, self.config, self._call)
        if cron.has_schedules:
            helpers.append(loop.create_task(cron.run(), name="coord-cron"))
        try:
            await self._claim_loop()
        finally:
            await self._shut_down(helpers)
            if listener is not None:
                listener.stop()
        return self.stats

    async def _shut_down(self, helpers: list[asyncio.Task[None]]) -> None:
        """Let running tasks finish within the grace period, release the rest, flush."""
        self._stopping = True
        began = time.monotonic()
        while self._active and time.monotonic() < began + self._grace:  # a 2nd signal zeroes it
            self._slot_freed.clear()
            await _wait(
                self._slot_freed, min(0.5, max(0.0, began + self._grace - time.monotonic()))
            )
        handles = [a.handle for a in self._active.values() if a.handle is not None]
        for attempt in list(self._active.values()):
            attempt.stop(StopReason.SHUTDOWN)
        await asyncio.gather(*handles, return_exceptions=True)
        try:
            await asyncio.wait_for(self._outcomes.join(), timeout=max(self._grace, 5.0))
        except TimeoutError:
            logger.error(
                "worker %s: %d outcomes could not be stored before exit; their tasks "
                "will run again after their leases expire",
                self.id,
                self._outcomes.qsize(),
            )
        for helper in helpers:
            helper.cancel()
        await asyncio.gather(*helpers, return_exceptions=True)
        self._runner.close()
        self._io.shutdown(wait=True)
        logger.info("worker %s stopped: %s", self.id, self.stats.as_dict())

    # -- plumbing ---------------------------------------------------------------------
    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking store call on the I/O threads."""
        return await self._loop.run_in_executor(self._io, fn, *args)

    async def _retrying(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """Retry a store call until it succeeds (the store may be restarting)."""
        delay = 0.05
        while True:
            try:
                return await call()
            except StoreError as exc:
                self.stats.store_errors += 1
                logger.warning(
                    "worker %s: %s failed (%s); retrying in %.2fs", self.id, what, exc, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, _STORE_RETRY_MAX)

    def _wake_keeper(self) -> None:
        """Called by ``ctx.heartbeat`` from the loop or from a handler thread."""
        if threading.get_ident() == self._loop_thread:
            self._beat.set()
        else:
            self._loop.call_soon_threadsafe(self._beat.set)

    # -- claiming ---------------------------------------------------------------------
    async def _claim_loop(self) -> None:
        config = self.config
        while not self._stopping:
            free = self._free_slots()
            if free <= 0:
                self._slot_freed.clear()
                await self._slot_freed.wait()
                continue
            wanted = min(free, config.claim_batch_size)
            self._wake.event.clear()
            self._reserved += wanted  # not offered to eager claims meanwhile
            tasks: list[ClaimedTask] | None = None
            try:
                tasks = await self._claim(wanted)
            except StoreError as exc:
                self._store_healthy = False
                self.stats.store_errors += 1
                logger.warning("worker %s: claim failed (%s)", self.id, exc)
            finally:
                self._reserved -= wanted  # the claimed tasks take their slots now
            if tasks is None:
                await asyncio.sleep(min(config.poll_interval, _STORE_RETRY_MAX))
                continue
            self._store_healthy = True
            for task in tasks:
                self._start(task)
            if len(tasks) == wanted:
                await asyncio.sleep(0)  # let the new handlers start before claiming more
                continue
            if config.burst and await self._drained():
                return
            await self._idle(len(tasks))

    async def _claim(self, wanted: int) -> list[ClaimedTask]:
        """Lease up to ``wanted`` due tasks.

        An idle worker (nothing running, nothing left to store) claims on the event
        loop's own thread: the loop has nothing else to do meanwhile, and skipping the
        two thread hand-offs of an I/O-thread call takes about 0.6 ms off the time
        from enqueue to handler start. After a store error it uses the I/O threads
        again until a claim succeeds, so that an unreachable database cannot block
        the loop (and its signal handling) for a whole connection timeout twice."""
        config = self.config
        if self._store_healthy and not self._active and not self._unflushed:
            return self.store.claim(self.id, config.queues, wanted, config.lease_seconds)
        return await self._call(
            self.store.claim, self.id, config.queues, wanted, config.lease_seconds
        )

    async def _idle(self, claimed: int) -> None:
        """Sleep until a wake-up or the next delayed task is due (at most a poll).

        When is the next delayed task due? Asking costs a query, so after a claim
        that found work the answer of the last poll interval is reused: a worker
        that keeps finding work would otherwise ask after every claim. It asks again
        after an empty claim, once the answer is a poll interval old, or when one of
        its own outcomes scheduled a retry (or the time it gave has come)."""
        timeout = self.config.poll_interval
        now = time.monotonic()
        stale = now - self._due_checked_at > self.config.poll_interval
        passed = self._next_due is not None and self._next_due <= now  # claimed since?
        if claimed == 0 or stale or passed or self._due_dirty:
            self._due_dirty = False
            try:
                due_in = await self._call(self.store.seconds_until_due, self.config.queues)
            except StoreError:
                due_in = None
            self._due_checked_at = now
            self._next_due = None if due_in is None else now + due_in
        if self._next_due is not None:
            timeout = min(timeout, max(0.0, self._next_due - now))
        await _wait(self._wake.event, timeout)

    async def _drained(self) -> bool:
        """Burst mode: nothing running, nothing to store, nothing due now or within a
        poll interval (after recovering expired leases). Tasks scheduled later than
        that (long delays or retry backoffs) are left for the next worker."""
        if self._active or self._unflushed or not self._outcomes.empty():
            await self._outcomes.join()
            return False
        self.stats.recovered += await self._retrying(
            "recovery", functools.partial(self._call, self.store.recover_expired)
        )
        due_in = await self._retrying(
            "due check",
            functools.partial(self._call, self.store.seconds_until_due, self.config.queues),
        )
        return due_in is None or due_in > self.config.poll_interval

    def _start(self, task: ClaimedTask) -> None:
        stale = self._active.get(task.id)
        if stale is not None:  # the database forgot our earlier claim (it crashed): void it
            stale.stop(StopReason.LEASE_LOST)
        attempt = Attempt(task)
        self._active[task.id] = attempt
        self.stats.claimed += 1
        attempt.handle = self._loop.create_task(self._execute(attempt))

    async def _execute(self, attempt: Attempt) -> None:
        task_id = attempt.task.id
        outcome = None
        try:
            outcome = await self._runner.run(attempt)
        finally:
            if self._active.get(task_id) is attempt:
                del self._active[task_id]
            if outcome is not None and attempt.task.run_id is not None and self.run_hooks:
                # The slot goes on to the run's next step, started with the outcome
                # (eager dispatch) instead of by a later claim.
                attempt.keeps_slot = True
                self._reserved += 1
            self._slot_freed.set()
        if outcome is None:
            self.stats.lease_lost += 1
            return
        self._unflushed[task_id] = attempt
        self._outcomes.put_nowait(outcome)

    # -- completing -------------------------------------------------------------------
    async def _completion_loop(self) -> None:
        queue = self._outcomes
        while True:
            batch = [await queue.get()]
            while not queue.empty() and len(batch) < _MAX_COMPLETION_BATCH:
                batch.append(queue.get_nowait())
            plain, of_runs = self._split_run_outcomes(batch)
            stores: list[Awaitable[set[str]]] = [
                self._store_run_outcome(outcome, attempt) for outcome, attempt in of_runs
            ]
            if plain:
                stores.append(
                    self._retrying(
                        "completion",
                        functools.partial(self._call, self.store.complete, self.id, plain),
                    )
                )
            # Outcomes of different runs commit in their own transactions, side by side
            # on the I/O threads (two of one run queue on the run's lock).
            accepted = set().union(*await asyncio.gather(*stores))
            requeued = False
            for outcome in batch:
                self._unflushed.pop(outcome.task_id, None)
                if outcome.task_id in accepted:
                    self._count(outcome)
                    requeued = requeued or outcome.state in _WAITING
                else:
                    self.stats.completions_refused += 1
                    logger.warning(
                        "worker %s: outcome of task %s attempt %d refused: lease lost",
                        self.id,
                        outcome.task_id,
                        outcome.attempt,
                    )
                queue.task_done()
            # A retry of ours may be due before the claim loop's next poll; in burst
            # mode the last outcome may mean there is nothing left to do.
            if requeued:
                self._due_dirty = True
            if requeued or (self.config.burst and not self._active):
                self._wake.event.set()

    def _split_run_outcomes(
        self, batch: list[Outcome]
    ) -> tuple[list[Outcome], list[tuple[Outcome, Attempt]]]:
        """Outcomes of plain tasks (stored in one batch) and of run tasks (each stored
        with its run's next step, in its own transaction)."""
        plain: list[Outcome] = []
        of_runs: list[tuple[Outcome, Attempt]] = []
        for outcome in batch:
            attempt = self._unflushed.get(outcome.task_id)
            if attempt is not None and attempt.task.run_id is not None and self.run_hooks:
                of_runs.append((outcome, attempt))
            else:
                plain.append(outcome)
        return plain, of_runs

    async def _store_run_outcome(self, outcome: Outcome, attempt: Attempt) -> set[str]:
        """Store a run task's outcome with its run's next step. The task's slot was
        kept for that step (eager dispatch): the next phase's task comes back already
        leased to this worker and starts at once, without a claim."""
        kept = attempt.keeps_slot
        eager = None
        if kept and not self._stopping:
            c = self.config
            eager = EagerClaim(self.id, c.queues, 1, c.lease_seconds)
        try:
            stored = await self._retrying(
                "run completion",
                functools.partial(
                    self._call, self._complete_run_task, outcome, attempt.task, eager
                ),
            )
        finally:
            if kept:
                attempt.keeps_slot = False
                self._reserved -= 1
                self._slot_freed.set()
        for claimed in stored.claimed:  # into the slot just given back: no await between
            self.stats.eager += 1
            self._start(claimed)
        return {outcome.task_id} if stored.accepted else set()

    def _complete_run_task(
        self, outcome: Outcome, task: ClaimedTask, eager: EagerClaim | None
    ) -> RunOutcomeStored:
        """Store a run task's outcome and its run's next step together. Should the
        engine fail (a bug), the outcome is stored alone and the reconciler takes the
        run up again later, so the task does not run again."""
        assert self.run_hooks is not None
        assert task.run_id is not None
        decide = self.run_hooks.after_outcome(outcome, task)
        try:
            return self.store.complete_run_task(self.id, outcome, task.run_id, decide, eager)
        except StoreError:
            raise
        except Exception:
            logger.exception(
                "worker %s: the run engine failed on task %s of run %s; storing the outcome alone",
                self.id,
                outcome.task_id,
                task.run_id,
            )
            return RunOutcomeStored(outcome.task_id in self.store.complete(self.id, [outcome]))

    def _free_slots(self) -> int:
        """Slots neither running a handler nor promised to a claim in flight (the
        claim loop's, or an eager one)."""
        return self.config.concurrency - len(self._active) - self._reserved

    def _reconcile_runs(self) -> int:
        """Look again at runs left idle with no live task (after a crash, a lease
        recovery that made a task dead, or a task cancelled by hand)."""
        if self.run_hooks is None:
            return 0
        ids = self.store.runs_to_reconcile(_RECONCILE_AFTER)
        for run_id in ids:
            try:
                self.store.change_run(run_id, self.run_hooks.reconcile())
            except StoreError:
                raise
            except Exception:
                logger.exception("worker %s: reconciling run %s failed", self.id, run_id)
        return len(ids)

    def _count(self, outcome: Outcome) -> None:
        stats = self.stats
        if outcome.topic == "task.stalled":
            stats.stalled += 1
        elif outcome.topic == "task.released":
            stats.released += 1
        elif outcome.state is TaskState.SUCCEEDED:
            stats.succeeded += 1
        elif outcome.state is TaskState.FAILED:
            stats.retried += 1
        elif outcome.state is TaskState.DEAD:
            stats.dead += 1

    # -- leases -----------------------------------------------------------------------
    async def _lease_loop(self) -> None:
        interval = self.config.lease_seconds / 3
        next_renewal = time.monotonic() + interval
        while True:
            await _wait(self._beat, max(0.0, next_renewal - time.monotonic()))
            self._beat.clear()
            now = time.monotonic()
            renew_all = now >= next_renewal
            held = [
                a
                for a in (*self._active.values(), *self._unflushed.values())
                if a.stop_reason is None and (renew_all or a.beat_pending or a.usage)
            ]
            if held:
                await self._renew(held)
            if renew_all:
                next_renewal = now + interval
            await asyncio.sleep(_HEARTBEAT_FLUSH_GAP)

    async def _renew(self, held: list[Attempt]) -> None:
        renewals = [a.take_renewal() for a in held]
        try:
            accepted = await self._call(
                self.store.renew, self.id, renewals, self.config.lease_seconds
            )
        except StoreError as exc:
            self.stats.store_errors += 1
            logger.warning("worker %s: lease renewal failed (%s)", self.id, exc)
            for attempt, renewal in zip(held, renewals, strict=True):
                attempt.usage.add(renewal.usage)
                attempt.beat_pending = attempt.beat_pending or renewal.beat
            return
        for attempt in held:
            task_id = attempt.task.id
            if task_id in accepted:
                continue
            # A finished attempt's renewal is refused once its outcome is stored (the
            # two race on the I/O threads); a lost lease shows when the outcome is.
            if self._active.get(task_id) is attempt:
                self.stats.renewals_refused += 1
                logger.warning(
                    "worker %s: lease of task %s attempt %d refused; stopping it",
                    self.id,
                    task_id,
                    attempt.task.attempt,
                )
                attempt.stop(StopReason.LEASE_LOST)
        charged = {
            a.task.run_id
            for a, r in zip(held, renewals, strict=True)
            if r.usage and a.task.run_id is not None and a.task.id in accepted
        }
        if charged and self.run_hooks is not None:
            self._charged_runs |= charged
            self._charged.set()

    async def _budget_loop(self) -> None:
        """Let the run engine check the budgets of runs whose tasks reported usage
        with their lease renewals, so that a run over a budget pauses now rather than
        when the task ends. Apart from the lease loop, which must never wait for it,
        and in a transaction per run: a renewal writes tasks of many runs at once,
        and a run's row is always locked before its tasks'. Nothing can start in the
        gap, as every start checks the budgets against the usage stored (and a check
        skipped at shutdown is made by the run's next step)."""
        assert self.run_hooks is not None
        while True:
            await self._charged.wait()
            self._charged.clear()
            run_ids, self._charged_runs = sorted(self._charged_runs), set()
            await self._check_budgets(run_ids)

    async def _check_budgets(self, run_ids: list[str]) -> None:
        """Check the budgets of ``run_ids``, one run at a time (see _budget_loop)."""
        assert self.run_hooks is not None
        for run_id in run_ids:
            try:
                decide = self.run_hooks.after_charge(self.id)
                await self._call(self.store.change_run, run_id, decide)
            except StoreError as exc:
                self.stats.store_errors += 1
                logger.warning(
                    "worker %s: budget check of run %s failed (%s)", self.id, run_id, exc
                )
            except Exception:
                logger.exception("worker %s: budget check of run %s failed", self.id, run_id)

    async def _watchdog(self) -> None:
        """Stop handlers past their timeout or missing heartbeats. One loop for all
        attempts is far cheaper than a timer per task; it is precise to a tick."""
        while True:
            await asyncio.sleep(_WATCHDOG_TICK)
            now = time.monotonic()
            for attempt in list(self._active.values()):
                reason = None if attempt.stop_reason else attempt.overdue(now)
                if reason is not None:
                    logger.warning(
                        "worker %s: stopping task %s attempt %d: %s",
                        self.id,
                        attempt.task.id,
                        attempt.task.attempt,
                        reason.value,
                    )
                    attempt.stop(reason)

    # -- recovery ---------------------------------------------------------------------
    async def _sweep_loop(self) -> None:
        interval = min(max(self.config.lease_seconds / 4, 0.5), 5.0)
        while True:
            try:
                recovered = await self._call(self.store.recover_expired)
            except StoreError as exc:
                self.stats.store_errors += 1
                logger.warning("worker %s: recovery sweep failed (%s)", self.id, exc)
            else:
                if recovered:
                    self.stats.recovered += recovered
                    logger.info(
                        "worker %s: recovered %d tasks with expired leases", self.id, recovered
                    )
                    self._wake.event.set()
            try:  # messages past their TTL are recorded as expired
                await self._call(self.store.expire_messages)
            except StoreError as exc:
                self.stats.store_errors += 1
                logger.warning("worker %s: message expiry sweep failed (%s)", self.id, exc)
            try:
                await self._call(self._reconcile_runs)
            except StoreError as exc:
                self.stats.store_errors += 1
                logger.warning("worker %s: run reconciliation failed (%s)", self.id, exc)
            await asyncio.sleep(interval * (0.75 + random.random() / 2))

    async def _seal_loop(self) -> None:
        """Seal new events into the audit ledger, one short transaction (one batch)
        per call, so claims and completions get the store in between. A full batch
        means more are waiting: go on at once, so the lag stays bounded under load."""
        interval = self.config.ledger_seal_interval
        while True:
            try:
                sealed = await self._call(self.store.seal_ledger)
            except StoreError as exc:
                self.stats.store_errors += 1
                logger.warning("worker %s: sealing the ledger failed (%s)", self.id, exc)
                sealed = 0
            if sealed >= SEAL_BATCH:
                await asyncio.sleep(0)
            else:
                await asyncio.sleep(interval * (0.75 + random.random() / 2))


async def _wait(event: asyncio.Event, timeout: float) -> None:
    """Wait for ``event`` at most ``timeout`` seconds."""
    if event.is_set():
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout)
