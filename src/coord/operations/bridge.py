"""The few places where the asyncio form of an operation and its blocking form do
different things, as pairs: ``scripts/generate_sync.py`` turns each name on the left into
the one on the right when it writes ``_sync`` from ``_async``, so the operations
themselves are written once.

========================  ==============================
asyncio (``_async``)      blocking (``_sync``)
========================  ==============================
``offload``               ``inline``
``through_hooks``         ``through_hooks_blocking``
``next_message``          ``next_message_blocking``
========================  ==============================
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, ParamSpec, TypeVar

from coord.domain.views import InboxMessage
from coord.messaging.plugins import chain
from coord.messaging.waiter import MessageWaiter

P = ParamSpec("P")
T = TypeVar("T")
In = TypeVar("In")
Out = TypeVar("Out")
Hook = Callable[[In, Callable[[In], Awaitable[Out]]], Awaitable[Out]]


async def offload(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a blocking call (a service over the store) off the event loop."""
    return await asyncio.to_thread(fn, *args, **kwargs)


def inline(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a blocking call here (the blocking form of :func:`offload`)."""
    return fn(*args, **kwargs)


async def through_hooks(
    hooks: Sequence[Hook[In, Out]], last: Callable[[In], Out], value: In
) -> Out:
    """``last(value)`` (a blocking call, run off the loop) inside the plugin hooks,
    the first hook outermost."""

    async def call_last(given: In) -> Out:
        return await asyncio.to_thread(last, given)

    return await chain(hooks, call_last)(value)


def through_hooks_blocking(
    hooks: Sequence[Hook[In, Out]], last: Callable[[In], Out], value: In
) -> Out:
    """:func:`through_hooks` from blocking code. The hooks are coroutines: they run
    in an event loop of their own, on another thread when this thread runs one
    already (so a blocking call made inside async code works instead of failing)."""
    if not hooks:
        return last(value)
    return _run(through_hooks(hooks, last, value))


async def next_message(
    waiter: MessageWaiter, agent: str, topic: str | None, by_priority: bool, timeout: float | None
) -> InboxMessage | None:
    """The next unread message of ``agent``, marked read, as soon as there is one."""
    return await waiter.take(agent, topic, by_priority, timeout)


def next_message_blocking(
    waiter: MessageWaiter, agent: str, topic: str | None, by_priority: bool, timeout: float | None
) -> InboxMessage | None:
    """:func:`next_message`, blocking this thread while it waits."""
    return waiter.take_blocking(agent, topic, by_priority, timeout)


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="coord-hooks") as pool:
        return pool.submit(asyncio.run, coroutine).result()


__all__ = [
    "inline",
    "next_message",
    "next_message_blocking",
    "offload",
    "through_hooks",
    "through_hooks_blocking",
]
