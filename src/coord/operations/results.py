"""What the operations answer besides the read models of :mod:`coord.domain`: the
caller, and the small results of writes. Every face returns these same models.

They ignore fields they do not know, so that a newer server does not break an older
client.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Me(_Result):
    """The caller as coord knows it: its agent, key, role, permissions and domains."""

    agent: str
    key_id: str
    role: str
    permissions: list[str]
    domains: list[str]
    human: bool


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
