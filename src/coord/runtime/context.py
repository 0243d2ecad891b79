"""What a handler sees of its task: ``ctx``.

``heartbeat`` and ``charge`` are cheap and never block: the worker sends them with its
next batched lease renewal (promptly after a heartbeat). ``checkpoint`` and ``step``
write through to the store before returning, so a retry finds them. Async handlers
get :class:`Context` (``await ctx.step(...)``); sync handlers, which run in threads,
get :class:`SyncContext` with the same methods, blocking.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, TypeVar

from coord.domain import bounds, codec, content
from coord.domain.steps import step_key
from coord.domain.tasks import Usage
from coord.errors import InvalidInput, LeaseLost, SecretUnavailable
from coord.ports.store import Store
from coord.runtime.attempt import Attempt
from coord.runtime.run_scope import DEFAULT_MAX_ARTIFACT_BYTES, RunScope

T = TypeVar("T")
#: Reads a secret for a task: ``(name, task_id, actor) -> value``, recording the read.
SecretReader = Callable[[str, str, str], str]
_task_logger = logging.getLogger("coord.task")
_MAX_MESSAGE = 1000
_MAX_PROGRESS = 1e15  # any finite scale (a fraction, a percentage, items done)


class TaskLogger(logging.LoggerAdapter[logging.Logger]):
    """A logger whose records carry the task id, name and attempt."""

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        kwargs["extra"] = {**(self.extra or {}), **kwargs.get("extra", {})}
        return msg, kwargs


@dataclass(frozen=True, slots=True)
class AttemptServices:
    """What a context needs from its worker."""

    store: Store
    owner: str
    loop: asyncio.AbstractEventLoop
    io: Executor
    wake_keeper: Callable[[], None]
    max_artifact_bytes: int = DEFAULT_MAX_ARTIFACT_BYTES
    read_secret: SecretReader | None = None  # injected by the App (the composition root)


class _BaseContext(RunScope):
    __slots__ = ("_attempt", "_services", "_steps", "log")

    def __init__(self, attempt: Attempt, services: AttemptServices) -> None:
        self._attempt = attempt
        self._services = services
        self._steps: dict[str, str] | None = None if attempt.task.attempt > 1 else {}
        task = attempt.task
        self.log = TaskLogger(
            _task_logger, {"task_id": task.id, "task_name": task.name, "attempt": task.attempt}
        )

    @property
    def task_id(self) -> str:
        """This task's id."""
        return self._attempt.task.id

    @property
    def task_name(self) -> str:
        """The registered task name."""
        return self._attempt.task.name

    @property
    def attempt(self) -> int:
        """1 for the first run, 2 for the first retry, ..."""
        return self._attempt.task.attempt

    @property
    def max_attempts(self) -> int:
        """The attempt after which a failure is final."""
        return self._attempt.task.max_attempts

    @property
    def last_checkpoint(self) -> Any:
        """What the last attempt saved with ``checkpoint`` (None on a first run)."""
        return self._attempt.task.checkpoint

    @property
    def last_error(self) -> dict[str, Any] | None:
        """How the previous attempt failed (``type``, ``message``, ``code``...), or None
        on a first run: e.g. the ``SchemaError`` a repair attempt should fix."""
        return self._attempt.task.last_error

    @property
    def cancelled(self) -> bool:
        """True once the worker stopped this attempt (stall, lost lease, shutdown)."""
        return self._attempt.stop_reason is not None

    def raise_if_cancelled(self) -> None:
        """Raise :class:`LeaseLost` if this attempt was stopped (for long sync loops)."""
        reason = self._attempt.stop_reason
        if reason is not None:
            raise LeaseLost(
                f"attempt {self.attempt} of task {self.task_id} was stopped: {reason.value}"
            )

    def heartbeat(self, progress: float | None = None, message: str | None = None) -> None:
        """Prove the handler is alive, optionally reporting progress and a message."""
        self.raise_if_cancelled()
        try:
            if progress is not None:
                progress = bounds.number(
                    progress, "progress", low=-_MAX_PROGRESS, high=_MAX_PROGRESS
                )
            if message is not None:
                content.check_text(message, "message")
        except ValueError as exc:
            raise InvalidInput.of(exc) from None
        if message is not None and len(message) > _MAX_MESSAGE:
            message = message[: _MAX_MESSAGE - 1] + "…"
        a = self._attempt
        a.last_beat = time.monotonic()
        a.beat_pending = True
        if progress is not None:
            a.progress = float(progress)
        if message is not None:
            a.message = message
        self._services.wake_keeper()

    def charge(
        self,
        *,
        tokens_in: int = 0,
        tokens_out: int = 0,
        usd: float = 0.0,
        tool_seconds: float = 0.0,
    ) -> None:
        """Record resources this task used (tokens, dollars, tool seconds); each
        amount is at least 0 and at most its bound (:mod:`coord.domain.bounds`)."""
        try:
            charged = Usage(
                bounds.whole(tokens_in, "tokens_in", high=bounds.MAX_TOKENS),
                bounds.whole(tokens_out, "tokens_out", high=bounds.MAX_TOKENS),
                round(bounds.number(usd, "usd", high=bounds.MAX_USD) * 1_000_000),
                bounds.number(tool_seconds, "tool_seconds", high=bounds.MAX_DURATION),
            )
        except ValueError as exc:
            raise InvalidInput.of(exc) from None
        self._attempt.usage.add(charged)

    def _step_key(self, name: str) -> str:
        """``name`` for its first use in an attempt, ``name#2``, ``name#3``... after."""
        if not name:
            raise InvalidInput("a step needs a name")
        try:
            content.check_text(name, "step")
        except ValueError as exc:
            raise InvalidInput.of(exc) from None
        counts = self._attempt.step_counts
        counts[name] = count = counts.get(name, 0) + 1
        return step_key(name, count)

    @staticmethod
    def _encode(value: Any, what: str) -> str:
        try:
            return content.encode(value, what)
        except ValueError as exc:
            raise InvalidInput.of(exc) from None

    def _secret_reader(self, name: str) -> Callable[[], str]:
        """A call reading secret ``name`` for this task (the read is an event)."""
        self.raise_if_cancelled()
        reader = self._services.read_secret
        if reader is None:
            raise SecretUnavailable(
                f"secret {name!r}: this worker has no secret store (run it from a coord.App)",
                name=name,
            )
        task_id, owner = self.task_id, self._services.owner
        return lambda: reader(name, task_id, owner)

    def _lost(self, what: str) -> LeaseLost:
        return LeaseLost(
            f"{what} refused: attempt {self.attempt} of task {self.task_id} lost its lease"
        )


class Context(_BaseContext):
    """The context of an async handler."""

    __slots__ = ()

    async def artifact(
        self,
        name: str,
        content: bytes | str | Any,
        *,
        media_type: str | None = None,
        tool: str | None = None,
        inputs: Sequence[str] = (),
    ) -> str:
        """Store an artifact of this run's phase (content-addressed) and return its
        digest (``sha256:...``). ``content`` is bytes, text, or JSON data; ``tool``
        (``name@version``) and ``inputs`` (digests it was made from) are kept as its
        provenance with this task and attempt. It counts as gate evidence."""
        self.raise_if_cancelled()
        artifact = self._new_artifact(name, content, media_type, tool, inputs)
        s = self._services
        if not await self._io(s.store.record_artifact, s.owner, artifact):
            raise self._lost(f"artifact {name!r}")
        return artifact.digest

    async def _io(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._services.loop.run_in_executor(self._services.io, fn, *args)

    async def secret(self, name: str) -> str:
        """The value of secret ``name`` (set with ``coord secret set``). Each read is
        recorded as a ``secret.read`` event of this task; keep the value out of logs,
        results and checkpoints."""
        return await self._io(self._secret_reader(name))

    async def checkpoint(self, data: Any) -> None:
        """Persist ``data``; a retry of this task reads it back as ``last_checkpoint``."""
        self.raise_if_cancelled()
        text = self._encode(data, "checkpoint")
        s = self._services
        if not await self._io(s.store.save_checkpoint, s.owner, self.task_id, self.attempt, text):
            raise self._lost("checkpoint")

    async def step(
        self, name: str, fn: Callable[..., T | Awaitable[T]], *args: Any, **kwargs: Any
    ) -> Any:
        """Run ``fn`` once per task: on a retry, return its recorded result instead.

        The result must be JSON data; it comes back decoded from JSON, the same on the
        first run and on every replay.
        """
        self.raise_if_cancelled()
        key = self._step_key(name)
        if self._steps is None:
            self._steps = await self._io(self._services.store.load_steps, self.task_id)
        if key in self._steps:
            return codec.loads(self._steps[key])
        value = fn(*args, **kwargs)
        if inspect.isawaitable(value):
            value = await value
        text = self._encode(value, f"steps.{key}")
        s = self._services
        if not await self._io(s.store.record_step, s.owner, self.task_id, self.attempt, key, text):
            raise self._lost(f"step {key!r}")
        self._steps[key] = text
        return codec.loads(text)


class SyncContext(_BaseContext):
    """The context of a sync handler (it runs in a worker thread)."""

    __slots__ = ()

    def artifact(
        self,
        name: str,
        content: bytes | str | Any,
        *,
        media_type: str | None = None,
        tool: str | None = None,
        inputs: Sequence[str] = (),
    ) -> str:
        """Store an artifact of this run's phase; see :meth:`Context.artifact`."""
        self.raise_if_cancelled()
        artifact = self._new_artifact(name, content, media_type, tool, inputs)
        s = self._services
        if not s.store.record_artifact(s.owner, artifact):
            raise self._lost(f"artifact {name!r}")
        return artifact.digest

    def checkpoint(self, data: Any) -> None:
        """Persist ``data``; a retry of this task reads it back as ``last_checkpoint``."""
        self.raise_if_cancelled()
        text = self._encode(data, "checkpoint")
        s = self._services
        if not s.store.save_checkpoint(s.owner, self.task_id, self.attempt, text):
            raise self._lost("checkpoint")

    def secret(self, name: str) -> str:
        """The value of secret ``name``; see :meth:`Context.secret`."""
        return self._secret_reader(name)()

    def step(self, name: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn`` once per task: on a retry, return its recorded result instead."""
        self.raise_if_cancelled()
        key = self._step_key(name)
        s = self._services
        if self._steps is None:
            self._steps = s.store.load_steps(self.task_id)
        if key in self._steps:
            return codec.loads(self._steps[key])
        value = fn(*args, **kwargs)
        if inspect.isawaitable(value):
            raise InvalidInput(f"step {key!r}: a sync handler cannot await; use an async handler")
        text = self._encode(value, f"steps.{key}")
        if not s.store.record_step(s.owner, self.task_id, self.attempt, key, text):
            raise self._lost(f"step {key!r}")
        self._steps[key] = text
        return codec.loads(text)
