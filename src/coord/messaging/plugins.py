"""Plugin hooks around messages, as ``call_next`` middleware chains.

``on_message_sent`` hooks see every batch an App sends before it is stored (they may
inspect it, replace it, refuse it by raising, or look at the results after);
``on_message_received`` hooks see every message an App hands to an agent, by
``receive`` or by an agent handler, and return what the receiver gets.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from coord.domain.messages import NewMessage, SendResult
from coord.domain.views import InboxMessage

In = TypeVar("In")
Out = TypeVar("Out")


@dataclass(frozen=True, slots=True)
class MessageSend:
    """A batch of validated messages about to be stored (one message for ``send``)."""

    messages: tuple[NewMessage, ...]


@dataclass(frozen=True, slots=True)
class MessageReceipt:
    """One message handed to an agent: by ``receive`` or by its ``handler``."""

    agent: str
    message: InboxMessage
    via: Literal["receive", "handler"]


SendNext = Callable[[MessageSend], Awaitable[list[SendResult]]]
SendHook = Callable[[MessageSend, SendNext], Awaitable[list[SendResult]]]
ReceiveNext = Callable[[MessageReceipt], Awaitable[Any]]
ReceiveHook = Callable[[MessageReceipt, ReceiveNext], Awaitable[Any]]


def chain(
    hooks: Sequence[Callable[[In, Callable[[In], Awaitable[Out]]], Awaitable[Out]]],
    last: Callable[[In], Awaitable[Out]],
) -> Callable[[In], Awaitable[Out]]:
    """Wrap ``last`` so that the first hook runs outermost."""
    call_next = last
    for hook in reversed(hooks):
        call_next = _bind(hook, call_next)
    return call_next


def _bind(
    hook: Callable[[In, Callable[[In], Awaitable[Out]]], Awaitable[Out]],
    call_next: Callable[[In], Awaitable[Out]],
) -> Callable[[In], Awaitable[Out]]:
    async def call(value: In) -> Out:
        return await hook(value, call_next)

    return call
