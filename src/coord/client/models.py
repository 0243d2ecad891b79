"""What the API answers besides the shared read models of :mod:`coord.domain`: the
caller, the small results of writes, and pages.

They ignore fields they do not know, so that a newer server does not break an older
client.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from coord.domain.views import EventInfo

T = TypeVar("T")


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Me(_Result):
    """The caller as the server knows it (``GET /me``)."""

    agent: str
    key_id: str
    role: str
    permissions: list[str]
    domains: list[str]
    human: bool


class Sent(_Result):
    """What a send did: the message id, whether this call created it (False when its
    key found an earlier one), its thread and the agents it was delivered to."""

    id: str
    created: bool
    thread_id: str
    recipients: list[str]


class Enqueued(_Result):
    """A task's id, and whether this call created it (False: its key found it)."""

    id: str
    created: bool


class Started(_Result):
    """A run's id, and whether this call started it (False: its key found it)."""

    id: str
    created: bool


class Subscription(_Result):
    """Whether a subscribe or unsubscribe call changed anything."""

    agent: str
    topic: str
    changed: bool


class EventPage(_Result):
    """Events after a cursor, and the cursor to continue from."""

    data: list[EventInfo]
    next_cursor: str
    has_more: bool


class Page(_Result, Generic[T]):
    """One page of a list (the clients follow ``next_cursor`` for you)."""

    data: list[T]
    next_cursor: str | None
    has_more: bool


@dataclass(frozen=True, slots=True)
class Draft:
    """One message of :meth:`coord.Client.send_many` (its sender is the caller)."""

    to: str
    subject: str
    body: Any = None
    priority: str | int = "normal"
    thread_id: str | None = None
    reply_to: str | None = None
    ttl: str | float | None = None
    key: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The request body of this message (unset options left out)."""
        data = {
            "to": self.to,
            "subject": self.subject,
            "body": self.body,
            "priority": self.priority,
            "thread_id": self.thread_id,
            "reply_to": self.reply_to,
            "ttl": self.ttl,
            "key": self.key,
        }
        return {k: v for k, v in data.items() if v is not None or k == "body"}
