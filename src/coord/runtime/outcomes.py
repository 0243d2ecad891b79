"""How the end of an attempt (a result, an exception, a stop) becomes an Outcome."""

from __future__ import annotations

import traceback
from typing import Any

from coord.domain import codec, content, events, sealed_content
from coord.domain.retry import decide_failure
from coord.domain.tasks import ClaimedTask, Outcome, TaskState, Usage
from coord.errors import CoordError, FatalError, SchemaError, TransientError

_MAX_MESSAGE = 2000
_MAX_TRACEBACK = 8000


def error_info(exc: BaseException, *, with_traceback: bool = True) -> dict[str, Any]:
    """An exception as JSON data: type, message, code and (trimmed) traceback."""
    info: dict[str, Any] = {"type": type(exc).__name__, "message": _text(str(exc))[:_MAX_MESSAGE]}
    if isinstance(exc, CoordError):
        info["code"] = exc.code
    if with_traceback and exc.__traceback__ is not None:
        text = "".join(traceback.format_exception(exc))
        info["traceback"] = _text(text)[-_MAX_TRACEBACK:]
    return info


def _text(text: str) -> str:
    # An error is recorded, never refused (the attempt is over): a NUL character,
    # which PostgreSQL cannot store, is written as the escape it stands for.
    return text.replace("\x00", "\\x00")


def succeeded(task: ClaimedTask, result: Any, usage: Usage, duration: float) -> Outcome:
    """The handler returned ``result``; a result that is not JSON makes the task dead."""
    try:
        result_json = content.encode(result, "result")
    except content.ContentInvalid as exc:
        return failed(task, FatalError(f"the result of {task.name!r}: {exc}"), usage)
    return Outcome(
        task_id=task.id,
        attempt=task.attempt,
        state=TaskState.SUCCEEDED,
        topic=events.TASK_SUCCEEDED,
        result_json=result_json,
        event_json=codec.dumps(
            {
                "attempt": task.attempt,
                "duration_s": round(duration, 6),
                # seals the result into the ledger with the event
                sealed_content.RESULT_SHA256: sealed_content.json_digest(result_json),
            }
        ),
        usage=usage,
    )


def failed(
    task: ClaimedTask, exc: BaseException, usage: Usage, *, topic: str | None = None
) -> Outcome:
    """The handler raised: retry with backoff, or dead when fatal or out of attempts."""
    decision = decide_failure(
        attempt=task.attempt,
        max_attempts=task.max_attempts,
        fatal=isinstance(exc, FatalError),
        schema=isinstance(exc, SchemaError),
        repairing=(task.last_error or {}).get("code") == SchemaError.code,
        retry_backoff=task.retry_backoff,
        retry_backoff_max=task.retry_backoff_max,
        retry_after=exc.retry_after if isinstance(exc, TransientError) else None,
    )
    info = error_info(exc)
    summary = {"type": info["type"], "message": info["message"]}
    event: dict[str, Any] = {"attempt": task.attempt, "error": summary}
    if decision.state is TaskState.FAILED:
        event["retry_in_s"] = round(decision.delay, 3)
    return Outcome(
        task_id=task.id,
        attempt=task.attempt,
        state=decision.state,
        topic=topic or decision.topic,
        error_json=codec.dumps(info),
        delay=decision.delay,
        extra_attempts=decision.extra_attempts,
        event_json=codec.dumps(event),
        usage=usage,
    )


def stalled(task: ClaimedTask, usage: Usage, silent_for: float) -> Outcome:
    """The handler stopped heartbeating: back to pending now (or dead when exhausted)."""
    state = TaskState.DEAD if task.attempt >= task.max_attempts else TaskState.PENDING
    message = (
        f"no heartbeat for {silent_for:.1f}s (heartbeat every {task.heartbeat:g}s, "
        f"stall_after {task.stall_after})"
    )
    error = {"type": "Stalled", "message": message}
    return Outcome(
        task_id=task.id,
        attempt=task.attempt,
        state=state,
        topic=events.TASK_STALLED,
        error_json=codec.dumps(error),
        event_json=codec.dumps({"attempt": task.attempt, "error": error, "next": state.value}),
        usage=usage,
    )


def released(task: ClaimedTask, usage: Usage) -> Outcome:
    """The worker shut down before the handler finished: pending again, and the
    interrupted attempt does not count against the task's retries."""
    return Outcome(
        task_id=task.id,
        attempt=task.attempt,
        state=TaskState.PENDING,
        topic=events.TASK_RELEASED,
        extra_attempts=1,
        event_json=codec.dumps({"attempt": task.attempt, "reason": "worker shutdown"}),
        usage=usage,
    )
