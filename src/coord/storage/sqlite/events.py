"""The event feed of the SQLite store (:class:`coord.ports.events.EventFeed`)."""

from __future__ import annotations

import re

from coord.domain import bounds
from coord.ports.events import START, EventPage, EventQuery
from coord.storage.rows.reader import RowReader, epoch_to_datetime, json_text_to_value
from coord.storage.sql import load_queries
from coord.storage.sqlite.connection import PACKAGE, SqliteConnection

_READER = RowReader(json_value=json_text_to_value, when=epoch_to_datetime)
E = load_queries(PACKAGE, "events.sql")


class SqliteEvents(SqliteConnection):
    """Event feed half of the SQLite store: a cursor is the last event id."""

    def event_cursor_now(self) -> str:
        """The id of the newest event."""
        with self._errors(), self._read() as cur:
            return str(cur.execute(E["event_cursor_now"]).fetchone()[0])

    def events_after(self, cursor: str | None, query: EventQuery) -> EventPage:
        """Events with an id above the cursor, oldest first."""
        after = _parse(cursor)
        params = {
            "after": after,
            "topic": query.topic,
            "run": query.run_id,
            "agent": query.agent,
            "limit": query.limit,
        }
        events = [_READER.event(r) for r in self._dict_rows(E["events_after"], params)]
        cursors = [str(e.id) for e in events]
        return EventPage(events, cursors, cursors[-1] if cursors else str(after))


_CURSOR = re.compile(r"\d{1,19}", re.ASCII)


def _parse(cursor: str | None) -> int:
    if cursor is None or cursor == START:
        return 0
    if not _CURSOR.fullmatch(cursor) or int(cursor) > bounds.MAX_ID:
        raise ValueError(f"{cursor!r} is not an event cursor of this database")
    return int(cursor)
