"""The narrow interface the methods written once run on: a :class:`Session` (one
read or one transaction of a dialect's connection) and :class:`Dialect` (how a store
opens one, binds a list and reads its rows).

A method written once takes its SQL from the dialect's named queries (each dialect
keeps the same names in its own ``.sql`` file), so only the SQL text differs. The
session binds the time of the write as ``now`` (SQLite's queries use it; PostgreSQL's
use the database clock and ignore it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from coord.storage.rows.events import Event
from coord.storage.rows.reader import RowReader

Params = Mapping[str, Any]


class Session(Protocol):
    """One read, or one transaction, on a dialect's connection."""

    def one(self, sql: str, params: Params | None = None) -> Sequence[Any] | None:
        """The first row of ``sql`` (None if it returns none)."""
        ...

    def all(self, sql: str, params: Params | None = None) -> list[Sequence[Any]]:
        """Every row of ``sql``."""
        ...

    def count(self, sql: str, params: Params | None = None) -> int:
        """Run a write; the number of rows it changed."""
        ...

    def events(self, rows: Sequence[Event]) -> None:
        """Insert events (:mod:`coord.storage.rows.events`) in this transaction."""
        ...


class Dialect:
    """What a dialect's connection class provides to the methods written once."""

    #: How the dialect returns JSON and times.
    _reader: RowReader

    def _reading(self) -> AbstractContextManager[Session]:
        """A session for reads (and, on PostgreSQL, single autocommitted writes)."""
        raise NotImplementedError  # provided by the dialect's connection class

    def _writing(
        self, *, durable: bool = True, atomic: bool = True
    ) -> AbstractContextManager[Session]:
        """A write transaction. ``durable=False``: safe to lose in a power cut (SQLite
        skips the fsync). ``atomic=False``: each statement may commit on its own
        (PostgreSQL then autocommits them, one round trip each and each seeing what
        committed before it); SQLite still holds its write lock for the whole block."""
        raise NotImplementedError  # provided by the dialect's connection class

    def _dict_rows(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """The rows of a read as dicts by column name."""
        raise NotImplementedError  # provided by the dialect's connection class

    def _id_list(self, ids: list[str]) -> Any:
        """``ids`` as the dialect binds a list."""
        raise NotImplementedError  # provided by the dialect's connection class
