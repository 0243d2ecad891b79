"""What the ledger covers beyond the event rows: stored content whose hash an event
carries, and how the current rows are checked against the sealed hashes.

An event that records content carries the SHA-256 of the content's canonical JSON
(:mod:`coord.domain.canonical`) in its data, written in the same transaction as the
content; sealing the event seals the hash. ``coord audit verify`` then reads each
row with the events that recorded it and compares:

=================  ===================  ====================  ======================
table              content              event                 data key
=================  ===================  ====================  ======================
``coord_tasks``    ``payload``          ``task.enqueued``     ``payload_sha256``
``coord_tasks``    ``result``           ``task.succeeded``    ``result_sha256``
``coord_tasks``    ``checkpoint``       ``task.checkpointed`` ``checkpoint_sha256``
``coord_messages`` ``subject`` + body   ``message.sent``      ``content_sha256``
``coord_runs``     ``input``            ``run.started``       ``input_sha256``
=================  ===================  ====================  ======================

Artifacts need no event: they are stored under the SHA-256 of their bytes
(``sha256:<hex>``), so each one is checked against its own digest.

Content written once (a payload, a message, a run's input) must match the *first*
sealed event that recorded it: an event added later cannot take its place. Content
that changes (a result after a retried success, a checkpoint) must match the *last*
one, and is not checked while a newer event about it waits to be sealed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from coord.domain import canonical, codec, events

PAYLOAD_SHA256 = "payload_sha256"
RESULT_SHA256 = "result_sha256"
CHECKPOINT_SHA256 = "checkpoint_sha256"
CONTENT_SHA256 = "content_sha256"
INPUT_SHA256 = "input_sha256"


class ContentTable(StrEnum):
    """The tables whose content the ledger covers."""

    TASKS = "coord_tasks"
    MESSAGES = "coord_messages"
    RUNS = "coord_runs"


def json_digest(text: str | bytes) -> str:
    """The hash of a stored JSON column (a payload, a result, a checkpoint, an input)."""
    return canonical.digest_json(text)


def message_digest(subject: str, body_json: str | bytes) -> str:
    """The hash of a message's content: its subject and body, as one JSON object."""
    return canonical.digest({"subject": subject, "body": codec.loads(body_json)})


Row = Mapping[str, Any]  # column name -> its stored text (JSON as text), or None


_NULL = canonical.digest(None)


def _column(name: str) -> Callable[[Row], str | None]:
    def digest_of(row: Row) -> str | None:
        text = row[name]
        return None if text is None else json_digest(text)

    return digest_of


def _message(row: Row) -> str | None:
    return message_digest(row["subject"], row["body"])


def _stored_digest(kind: Sealed, row: Row) -> str:
    # A JSON null may be kept as SQL NULL (PostgreSQL keeps a task's null result so):
    # both are the value null, and hash alike.
    return kind.digest_of(row) or _NULL


@dataclass(frozen=True, slots=True)
class Sealed:
    """One kind of content: where it is stored, which event seals its hash, and
    under which key of the event's data."""

    table: ContentTable
    column: str  # as reports name it
    topic: str
    key: str
    once: bool  # written once: the first sealed event holds (else the last)
    digest_of: Callable[[Row], str | None]


COVERED: tuple[Sealed, ...] = (
    Sealed(
        ContentTable.TASKS,
        "payload",
        events.TASK_ENQUEUED,
        PAYLOAD_SHA256,
        True,
        _column("payload"),
    ),
    Sealed(
        ContentTable.TASKS,
        "result",
        events.TASK_SUCCEEDED,
        RESULT_SHA256,
        False,
        _column("result"),
    ),
    Sealed(
        ContentTable.TASKS,
        "checkpoint",
        events.TASK_CHECKPOINTED,
        CHECKPOINT_SHA256,
        False,
        _column("checkpoint"),
    ),
    Sealed(
        ContentTable.MESSAGES,
        "subject and body",
        events.MESSAGE_SENT,
        CONTENT_SHA256,
        True,
        _message,
    ),
    Sealed(ContentTable.RUNS, "input", events.RUN_STARTED, INPUT_SHA256, True, _column("input")),
)


def covered_in(table: ContentTable) -> tuple[Sealed, ...]:
    """The kinds of content stored in ``table``."""
    return tuple(s for s in COVERED if s.table is table)


def topics_of(table: ContentTable) -> list[str]:
    """The topics of the events that seal content of ``table``."""
    return sorted({s.topic for s in covered_in(table)})


@dataclass(frozen=True, slots=True)
class Claim:
    """An event that recorded a row's content: its topic, id, the ledger entry that
    seals it (None: not sealed yet) and its data."""

    topic: str
    event_id: int
    seq: int | None
    data: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class ContentRow:
    """A row as stored now (its columns as text), with the events that recorded its
    content."""

    id: str
    columns: Row
    claims: Sequence[Claim]


#: Content-addressed, checked against its own digest (no event needed).
ARTIFACTS = "coord_artifacts"


@dataclass(frozen=True, slots=True)
class ContentFinding:
    """A row whose content does not match what the ledger sealed."""

    table: str
    row_id: str
    column: str
    event_id: int | None
    seq: int | None
    problem: str


@dataclass(slots=True)
class ContentTally:
    """What a check of the content found, summed over the rows fed to it.

    ``checked``: contents that match their sealed hash; ``pending``: contents whose
    event is not sealed yet (or sealed after the head the walk started from);
    ``uncovered``: contents sealed by an event that carries no hash (written before
    coord hashed content); ``mismatched``: the rest, ``first`` of them named."""

    checked: int = 0
    pending: int = 0
    uncovered: int = 0
    mismatched: int = 0
    first: ContentFinding | None = None

    def feed(self, table: ContentTable, row: ContentRow, up_to_seq: int) -> None:
        """Check one row of ``table`` against the entries up to ``up_to_seq``."""
        for kind in covered_in(table):
            finding = self._check(kind, row, up_to_seq)
            if finding is not None:
                self.mismatched += 1
                self.first = self.first or finding

    def feed_artifact(self, digest: str, content: bytes) -> None:
        """Check one stored artifact against the digest it is stored under."""
        if "sha256:" + hashlib.sha256(content).hexdigest() == digest:
            self.checked += 1
            return
        self.mismatched += 1
        self.first = self.first or ContentFinding(
            table=ARTIFACTS,
            row_id=digest,
            column="content",
            event_id=None,
            seq=None,
            problem=f"{ARTIFACTS} row {digest}: its content does not hash to its digest: "
            "edited in the database",
        )

    def _check(self, kind: Sealed, row: ContentRow, up_to_seq: int) -> ContentFinding | None:
        empty = kind.digest_of(row.columns) is None  # SQL NULL
        claims = [c for c in row.claims if c.topic == kind.topic]
        if not claims:
            if empty:
                return None  # nothing stored, nothing recorded (a task without result)
            return self._finding(
                kind,
                row,
                None,
                f"is recorded by no {kind.topic} event: the row was inserted, or its "
                f"{kind.column} set, in the database",
            )
        sealed = [c for c in claims if c.seq is not None and c.seq <= up_to_seq]
        if not sealed or (not kind.once and len(sealed) < len(claims)):
            self.pending += 1  # the event that holds is not sealed yet
            return None
        claim = min(sealed, key=_seq) if kind.once else max(sealed, key=_seq)
        expected = None if claim.data is None else claim.data.get(kind.key)
        if not isinstance(expected, str):
            self.uncovered += 1
            return None
        if _stored_digest(kind, row.columns) == expected:
            self.checked += 1
            return None
        where = f"the hash sealed by event {claim.event_id} ({kind.topic}, entry {claim.seq})"
        what = "is gone (NULL), unlike" if empty else "does not match"
        return self._finding(kind, row, claim, f"{what} {where}: edited in the database")

    @staticmethod
    def _finding(kind: Sealed, row: ContentRow, claim: Claim | None, why: str) -> ContentFinding:
        return ContentFinding(
            table=kind.table.value,
            row_id=row.id,
            column=kind.column,
            event_id=None if claim is None else claim.event_id,
            seq=None if claim is None else claim.seq,
            problem=f"{kind.table} row {row.id}: its {kind.column} {why}",
        )


def _seq(claim: Claim) -> int:
    return claim.seq or 0
