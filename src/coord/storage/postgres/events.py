"""The event feed of the PostgreSQL store (:class:`coord.ports.events.EventFeed`)."""

from __future__ import annotations

import re

from coord.domain import bounds
from coord.ports.events import START, EventPage, EventQuery
from coord.storage.postgres.connection import PACKAGE, PostgresConnection, scalar
from coord.storage.rows.reader import RowReader
from coord.storage.sql import load_queries

_READER = RowReader()
E = load_queries(PACKAGE, "events.sql")
_CURSOR = re.compile(r"(\d{1,20}):(\d{1,19})", re.ASCII)
_XID_MAX = 2**64 - 1  # xid8 is an unsigned 64-bit number


class PostgresEvents(PostgresConnection):
    """Event feed half of the PostgreSQL store: a cursor is ``XID:ID`` of the last
    event read (or of the horizon, when nothing was read)."""

    def event_cursor_now(self) -> str:
        """Below every transaction still running: what a live follower starts from."""
        with self._conn() as conn:
            return str(scalar(conn.execute(E["event_cursor_now"]).fetchone()))

    def events_after(self, cursor: str | None, query: EventQuery) -> EventPage:
        """Events after the cursor in (xid, id) order, below the running transactions."""
        xid, after = _parse(cursor)
        params = {
            "xid": xid,
            "after": after,
            "topic": query.topic,
            "run": query.run_id,
            "agent": query.agent,
            "limit": query.limit,
        }
        rows = self._dict_rows(E["events_after"], params)
        cursors = [f"{r['xid']}:{r['id']}" for r in rows]
        return EventPage(
            [_READER.event(r) for r in rows],
            cursors,
            cursors[-1] if cursors else cursor or f"{xid}:{after}",
        )


def _parse(cursor: str | None) -> tuple[str, int]:
    if cursor is None or cursor == START:
        return "0", 0
    match = _CURSOR.fullmatch(cursor)
    if match is None or int(match[1]) > _XID_MAX or int(match[2]) > bounds.MAX_ID:
        raise ValueError(f"{cursor!r} is not an event cursor of this database")
    return match[1], int(match[2])
