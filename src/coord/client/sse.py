"""Reading a ``text/event-stream``: lines in, one message per blank line out.

Only what coord's stream uses: ``id``, ``event`` and ``data`` fields (several
``data`` lines joined by newlines) and comments. A block without data (a keep-alive
comment) still comes out, empty, so that a reader can look at its clock.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Message:
    """One block of the stream."""

    id: str | None = None
    event: str | None = None
    data: str | None = None


class Parser:
    """Feed it lines; it returns a :class:`Message` when one is complete."""

    def __init__(self) -> None:
        self._id: str | None = None
        self._event: str | None = None
        self._data: list[str] = []

    def feed(self, line: str) -> Message | None:
        """Take one line (without its line break)."""
        if line == "":
            message = Message(self._id, self._event, "\n".join(self._data) or None)
            self._id, self._event, self._data = None, None, []
            return message
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self._id = value
        elif name == "event":
            self._event = value
        return None
