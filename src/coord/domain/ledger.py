"""The audit ledger's hash chain: how an entry is hashed, how entries link, and how a
walk over the chain finds the first entry that does not hold.

Entry ``seq`` seals one event: its hash is the SHA-256 (hex) of the canonical JSON
(RFC 8785) of ``{"seq", "prev_hash", "event"}``, where ``prev_hash`` is the hash of
entry ``seq - 1`` (64 zeros for the first). The event is hashed with every field as
the database stores it, times and data as text (see :class:`CanonicalEvent`), so an
edited byte anywhere changes the hash; the seq and the previous hash make deleted,
inserted and reordered entries break the links.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import rfc8785

GENESIS_HASH = "0" * 64
_SAFE_INT = 2**53 - 1  # the integers RFC 8785 (I-JSON) can represent exactly


@dataclass(frozen=True, slots=True)
class CanonicalEvent:
    """An event as the ledger hashes it. Each store renders its own columns as text
    exactly as stored: SQLite data as its stored JSON text, times as ``repr`` of the
    epoch float; PostgreSQL data as jsonb's text form, times as UTC ISO-8601 with
    microseconds; ids (UUIDs) as their text."""

    id: int
    topic: str
    task_id: str | None
    run_id: str | None
    message_id: str | None
    actor: str | None
    created_at: str
    data: str | None

    def as_dict(self) -> dict[str, Any]:
        """The event object of the hashed document."""
        return {
            "id": self.id,
            "topic": self.topic,
            "task_id": self.task_id,
            "run_id": self.run_id,
            "message_id": self.message_id,
            "actor": self.actor,
            "created_at": self.created_at,
            "data": self.data,
        }


def entry_document(seq: int, prev_hash: str, event: CanonicalEvent) -> dict[str, Any]:
    """The JSON object whose canonical form entry ``seq`` hashes."""
    return {"seq": seq, "prev_hash": prev_hash, "event": event.as_dict()}


def canonical_entry(seq: int, prev_hash: str, event: CanonicalEvent) -> bytes:
    """The RFC 8785 canonical JSON of an entry.

    The document has a fixed shape: ASCII keys, and values that are strings, null or
    integers. For that shape orjson with sorted keys writes exactly the RFC 8785 bytes
    (the unit tests hold it to ``rfc8785.dumps`` over every code point) at about 1/25
    of the cost, which matters because every event of a busy worker is hashed once.
    Integers outside the I-JSON range go to ``rfc8785``, which refuses them."""
    document = entry_document(seq, prev_hash, event)
    if abs(seq) > _SAFE_INT or abs(event.id) > _SAFE_INT:
        return rfc8785.dumps(document)
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)


def entry_hash(seq: int, prev_hash: str, event: CanonicalEvent) -> str:
    """The hash of entry ``seq`` sealing ``event`` after an entry hashed ``prev_hash``."""
    return hashlib.sha256(canonical_entry(seq, prev_hash, event)).hexdigest()


@dataclass(frozen=True, slots=True)
class SealedEntry:
    """A new entry of the chain, as the sealer writes it."""

    seq: int
    event_id: int
    prev_hash: str
    hash: str


def link(events: Sequence[CanonicalEvent], after_seq: int, after_hash: str) -> list[SealedEntry]:
    """Chain ``events`` (in sealing order) after the entry ``after_seq``/``after_hash``."""
    entries: list[SealedEntry] = []
    prev = after_hash
    for offset, event in enumerate(events, start=1):
        seq = after_seq + offset
        digest = entry_hash(seq, prev, event)
        entries.append(SealedEntry(seq, event.id, prev, digest))
        prev = digest
    return entries


@dataclass(frozen=True, slots=True)
class LedgerHead:
    """The head row (where the sealer continues), and the highest seq in the ledger
    table, read together so a sealer committing meanwhile cannot tear them apart."""

    seq: int
    hash: str
    event_id: int
    sealed_at: datetime | None
    max_seq: int


@dataclass(frozen=True, slots=True)
class ChainEntry:
    """A stored entry joined to its event (None: no event has its ``event_id``).

    ``order`` is the event's place in sealing order (SQLite: ``(id,)``; PostgreSQL:
    ``(xid, id)``), so a walk can tell events sealed out of order."""

    seq: int
    event_id: int
    prev_hash: str
    hash: str
    event: CanonicalEvent | None
    order: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Backlog:
    """Events not sealed yet: how many, and when the oldest was recorded."""

    count: int
    oldest: datetime | None


@dataclass(frozen=True, slots=True)
class StrayEvent:
    """An event at or below the head's place in sealing order that no entry seals;
    ``next_seq`` is the first entry sealed after its place (None: none)."""

    event_id: int
    next_seq: int | None


@dataclass(frozen=True, slots=True)
class Finding:
    """Where the chain first fails, and why."""

    seq: int | None
    event_id: int | None
    problem: str


class ChainWalk:
    """Checks entries fed in seq order and remembers the hash of one entry (the one a
    checkpoint covers). :meth:`feed` returns the first problem; stop there."""

    def __init__(self, *, watch_seq: int | None = None) -> None:
        self.checked = 0
        self.last_seq = 0
        self.last_hash = GENESIS_HASH
        self.last_event_id = 0
        self._last_order: tuple[int, ...] = ()
        self._watch_seq = watch_seq
        self.watched: tuple[str, int] | None = None  # (hash, event_id) of watch_seq

    def feed(self, entry: ChainEntry) -> Finding | None:
        """Check the next entry against the one before it and against its event."""
        seq, event_id = entry.seq, entry.event_id
        expected = self.last_seq + 1
        if seq != expected:  # read in seq order from a primary key: seq > expected
            span = (
                f"goes from entry {self.last_seq} to {seq}"
                if self.last_seq
                else f"starts at entry {seq}"
            )
            return Finding(expected, None, f"entry {expected}: missing (the chain {span})")
        name = f"entry {seq} (event {event_id})"
        if entry.event is None:
            return Finding(seq, event_id, f"entry {seq}: its event {event_id} is missing (deleted)")
        if entry.order <= self._last_order:
            return Finding(
                seq,
                event_id,
                f"{name}: out of order (entry {self.last_seq} seals event "
                f"{self.last_event_id}, which comes after it)",
            )
        if entry.prev_hash != self.last_hash:
            before = f"entry {self.last_seq}'s hash" if self.last_seq else "the genesis hash"
            return Finding(
                seq,
                event_id,
                f"{name}: prev_hash does not match {before} (an entry was edited, "
                "inserted or reordered)",
            )
        if entry_hash(seq, entry.prev_hash, entry.event) != entry.hash:
            return Finding(
                seq,
                event_id,
                f"{name}: its hash does not match its content (the event or the entry "
                "was edited, or entries were reordered)",
            )
        self.checked += 1
        self.last_seq, self.last_hash, self.last_event_id = seq, entry.hash, event_id
        self._last_order = entry.order
        if seq == self._watch_seq:
            self.watched = (entry.hash, event_id)
        return None

    def finish(self, head: LedgerHead) -> Finding | None:
        """After the last entry up to ``head.seq``: the head must name that entry."""
        if head.seq > self.last_seq:
            missing = self.last_seq + 1
            return Finding(
                missing,
                None,
                f"entry {missing}: missing (the chain ends at entry {self.last_seq} but "
                f"its head is at entry {head.seq}: the tail was deleted)",
            )
        if head.hash != self.last_hash or head.event_id != self.last_event_id:
            return Finding(
                head.seq or None,
                head.event_id or None,
                f"the head (entry {head.seq}, event {head.event_id}) does not match "
                f"entry {self.last_seq} (event {self.last_event_id}): the head was edited",
            )
        return None


def beyond_head(head: LedgerHead) -> Finding | None:
    """Entries after the head: inserted, or the head was moved back over them."""
    if head.max_seq <= head.seq:
        return None
    first = head.seq + 1
    return Finding(
        first,
        None,
        f"entry {first}: beyond the head at entry {head.seq} (entries up to {head.max_seq} "
        "exist: inserted, or the head was moved back)",
    )


def stray_finding(stray: StrayEvent) -> Finding:
    """An event below the sealed horizon that no entry seals."""
    where = f" (before entry {stray.next_seq})" if stray.next_seq is not None else ""
    return Finding(
        stray.next_seq,
        stray.event_id,
        f"event {stray.event_id} is not in the ledger though later events are sealed"
        f"{where}: it was inserted, or its entry was removed",
    )
