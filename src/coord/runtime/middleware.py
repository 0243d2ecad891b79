"""Cross-cutting concerns around every handler call, as a ``call_next`` chain.

A middleware is ``async def mw(call: TaskCall, call_next) -> Any``; it may inspect or
change the call, run code before and after ``await call_next(call)``, or raise.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from coord.runtime.context import Context, SyncContext


@dataclass(frozen=True, slots=True)
class TaskCall:
    """One handler invocation."""

    task_name: str
    task_id: str
    attempt: int
    payload: dict[str, Any]
    context: Context | SyncContext


CallNext = Callable[[TaskCall], Awaitable[Any]]
Middleware = Callable[[TaskCall, CallNext], Awaitable[Any]]


def chain(middlewares: Sequence[Middleware], handler: CallNext) -> CallNext:
    """Wrap ``handler`` so the first middleware runs outermost."""
    call_next = handler
    for middleware in reversed(middlewares):
        call_next = _bind(middleware, call_next)
    return call_next


def _bind(middleware: Middleware, call_next: CallNext) -> CallNext:
    async def call(task_call: TaskCall) -> Any:
        return await middleware(task_call, call_next)

    return call
