"""What the API answers besides the models of :mod:`coord.domain` and
:mod:`coord.operations.results`: a page of the event feed.

It ignores fields it does not know, so that a newer server does not break an older
client.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from coord.domain.views import EventInfo


class EventPage(BaseModel):
    """Events after a cursor, and the cursor to continue from."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    data: list[EventInfo]
    next_cursor: str
    has_more: bool
