"""What happens after a failed attempt: retry later, or dead.

``retries=N`` allows N retries after the first attempt. Backoff grows exponentially
from ``retry_backoff`` and is capped at ``retry_backoff_max``; "equal jitter" (half
fixed, half random) keeps retries of a burst of failures from arriving together while
still growing with every attempt.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from coord.domain import events
from coord.domain.tasks import TaskState

_MAX_EXPONENT = 62  # 2**62 seconds is beyond any cap; avoids huge ints and overflow


def backoff_delay(
    attempt: int, base: float, cap: float, rand: Callable[[], float] = random.random
) -> float:
    """Seconds to wait before retrying after failed attempt number ``attempt`` (1-based)."""
    ceiling = min(cap, base * 2.0 ** min(max(attempt - 1, 0), _MAX_EXPONENT))
    return ceiling * (0.5 + rand() / 2)


@dataclass(frozen=True, slots=True)
class FailureDecision:
    """The next state of a task whose attempt failed, and the event that records it."""

    state: TaskState
    delay: float
    topic: str
    extra_attempts: int = 0  # attempts granted beyond the task's retries (a repair)


def decide_failure(
    *,
    attempt: int,
    max_attempts: int,
    fatal: bool,
    schema: bool = False,
    repairing: bool = False,
    retry_backoff: float,
    retry_backoff_max: float,
    retry_after: float | None = None,
    rand: Callable[[], float] = random.random,
) -> FailureDecision:
    """Retry with backoff while attempts remain and the error is not fatal; else dead.

    ``retry_after`` (from the error, e.g. a provider's Retry-After) replaces the
    computed backoff but is still capped at ``retry_backoff_max``.

    A ``schema`` error (the output did not match its schema) gets one repair attempt
    at once, granted beyond the retries when none are left; if the failed attempt
    was ``repairing`` already, the task is dead.
    """
    if fatal or (schema and repairing):
        return FailureDecision(TaskState.DEAD, 0.0, events.TASK_DEAD)
    if schema:
        extra = 1 if attempt >= max_attempts else 0
        return FailureDecision(TaskState.FAILED, 0.0, events.TASK_RETRYING, extra)
    if attempt >= max_attempts:
        return FailureDecision(TaskState.DEAD, 0.0, events.TASK_DEAD)
    if retry_after is not None:
        delay = min(max(retry_after, 0.0), retry_backoff_max)
    else:
        delay = backoff_delay(attempt, retry_backoff, retry_backoff_max, rand)
    return FailureDecision(TaskState.FAILED, delay, events.TASK_RETRYING)
