"""Audit ledger use cases: sealing events into the hash chain, its status, verifying
it (alone or against a signed checkpoint), and making checkpoints and signing keys.

The CLI and the API call these; keys are passed in as PEM bytes (reading them from
settings or files is the caller's business), so nothing here touches configuration.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from coord.domain.ledger import (
    GENESIS_HASH,
    ChainWalk,
    Finding,
    LedgerHead,
    beyond_head,
    stray_finding,
)
from coord.domain.sealed_content import ContentTable, ContentTally
from coord.errors import Conflict, InvalidInput
from coord.ports.ledger import ARTIFACT_BATCH, CONTENT_BATCH, SEAL_BATCH
from coord.ports.store import Store
from coord.security import checkpoints

#: Entries read per query while verifying: the chain is never loaded whole.
VERIFY_BATCH = 1000
#: The most batches one ``seal`` call writes (a million events), so a huge backlog
#: cannot keep one call going for ever; call it again to go on.
MAX_SEAL_BATCHES = 1000


class _Report(BaseModel):
    model_config = ConfigDict(frozen=True)


class SealReport(_Report):
    """What one sealing pass did, and what is left."""

    sealed: int
    head_seq: int
    head_hash: str
    unsealed: int


class LedgerStatus(_Report):
    """The chain's head and the sealer's lag."""

    head_seq: int
    head_hash: str
    head_event_id: int
    sealed_at: datetime | None
    unsealed: int
    oldest_unsealed_at: datetime | None
    lag_seconds: float | None


class BadRow(_Report):
    """The first stored row whose content does not match what the ledger sealed."""

    table: str
    id: str
    column: str
    event_id: int | None
    seq: int | None


class ContentReport(_Report):
    """What the check of stored content against the sealed hashes found: how many
    contents matched, waited for their event to be sealed, were sealed before events
    carried hashes, or did not match (the first of those named in ``bad_row``)."""

    checked: int
    pending: int
    uncovered: int
    mismatched: int
    bad_row: BadRow | None = None


class VerifyReport(_Report):
    """The outcome of a verification: ``ok``, or the first bad place and why."""

    ok: bool
    entries_checked: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    first_bad_event_id: int | None = None
    problem: str | None = None
    unsealed: int = 0
    checkpoint_seq: int | None = None
    checkpoint_ok: bool | None = None
    content: ContentReport | None = None


def seal(store: Store, *, max_batches: int = MAX_SEAL_BATCHES) -> SealReport:
    """Seal every event that can be sealed now (up to ``max_batches`` batches)."""
    if max_batches < 1:
        raise InvalidInput("max_batches must be at least 1", field="max_batches")
    sealed = store.seal_ledger(batch_size=SEAL_BATCH, max_batches=max_batches)
    head = store.ledger_head()
    return SealReport(
        sealed=sealed,
        head_seq=head.seq,
        head_hash=head.hash,
        unsealed=store.ledger_backlog().count,
    )


def status(store: Store) -> LedgerStatus:
    """The head, how many events wait to be sealed, and for how long the oldest has."""
    head = store.ledger_head()
    backlog = store.ledger_backlog()
    lag = None
    if backlog.oldest is not None:
        lag = max(0.0, (datetime.now(UTC) - backlog.oldest).total_seconds())
    return LedgerStatus(
        head_seq=head.seq,
        head_hash=head.hash,
        head_event_id=head.event_id,
        sealed_at=head.sealed_at,
        unsealed=backlog.count,
        oldest_unsealed_at=backlog.oldest,
        lag_seconds=lag,
    )


def verify(
    store: Store,
    *,
    checkpoint: dict[str, Any] | None = None,
    public_key_pem: bytes | None = None,
    content: bool = True,
) -> VerifyReport:
    """Walk the chain in seq order, recomputing every hash; check the head, that no
    event below the head is left out, and (given a checkpoint and the trusted public
    key that signed it) that the chain still holds the entry the checkpoint covers.
    Then, with ``content`` and an intact chain, check that the stored content the
    events recorded (payloads, results, checkpoints, messages, run inputs) still
    matches the hashes they sealed (see :mod:`coord.domain.sealed_content`).

    A checkpoint without ``public_key_pem`` is refused: the key inside the file
    proves nothing, since whoever edits the file can replace it too."""
    cp = None
    if checkpoint is not None:
        if public_key_pem is None:
            raise InvalidInput(
                "verifying a checkpoint needs the trusted public key that signed it; "
                "the key inside the checkpoint file is not trusted on its own",
                field="public_key",
            )
        cp = checkpoints.parse_checkpoint(checkpoint)
        bad_signature = checkpoints.signature_problem(checkpoint, public_key_pem)
        if bad_signature is not None:
            head = store.ledger_head()
            return VerifyReport(
                ok=False,
                entries_checked=0,
                head_seq=head.seq,
                head_hash=head.hash,
                problem=bad_signature,
                unsealed=store.ledger_backlog().count,
                checkpoint_seq=cp.seq,
                checkpoint_ok=False,
            )
    head = store.ledger_head()
    walk = ChainWalk(watch_seq=None if cp is None else cp.seq)
    finding = (
        _walk(store, walk, head)
        or walk.finish(head)
        or beyond_head(head)
        or _stray(store)
        or _against_checkpoint(cp, walk, head)
    )
    report = None
    if content and finding is None:
        report, finding = _check_content(store, head.seq)
    return VerifyReport(
        ok=finding is None,
        entries_checked=walk.checked,
        head_seq=head.seq,
        head_hash=head.hash,
        first_bad_seq=None if finding is None else finding.seq,
        first_bad_event_id=None if finding is None else finding.event_id,
        problem=None if finding is None else finding.problem,
        unsealed=store.ledger_backlog().count,
        checkpoint_seq=None if cp is None else cp.seq,
        checkpoint_ok=None if cp is None else finding is None,
        content=report,
    )


def _check_content(store: Store, up_to_seq: int) -> tuple[ContentReport, Finding | None]:
    """Every row of every covered table against the entries up to ``up_to_seq`` (the
    head the chain walk checked), then every artifact against its digest, a batch at
    a time."""
    tally = ContentTally()
    for table in ContentTable:
        after: str | None = None
        while True:
            rows = store.sealed_content(table, after, CONTENT_BATCH)
            for row in rows:
                tally.feed(table, row, up_to_seq)
            if len(rows) < CONTENT_BATCH:
                break
            after = rows[-1].id
    digest: str | None = None
    while True:
        artifacts = store.artifact_contents(digest, ARTIFACT_BATCH)
        for digest, content in artifacts:
            tally.feed_artifact(digest, content)
        if len(artifacts) < ARTIFACT_BATCH:
            break
    first = tally.first
    report = ContentReport(
        checked=tally.checked,
        pending=tally.pending,
        uncovered=tally.uncovered,
        mismatched=tally.mismatched,
        bad_row=None
        if first is None
        else BadRow(
            table=first.table,
            id=first.row_id,
            column=first.column,
            event_id=first.event_id,
            seq=first.seq,
        ),
    )
    if first is None:
        return report, None
    more = tally.mismatched - 1
    problem = first.problem + (f" (and {more} more row(s) like it)" if more else "")
    return report, Finding(first.seq, first.event_id, problem)


def _walk(store: Store, walk: ChainWalk, head: LedgerHead) -> Finding | None:
    # Only up to the head read at the start: a sealer running meanwhile appends after
    # it, and entries at or below it never change in a ledger nobody tampered with.
    after = 0
    while True:
        entries = store.ledger_entries(after, head.seq, VERIFY_BATCH)
        for entry in entries:
            finding = walk.feed(entry)
            if finding is not None:
                return finding
        if len(entries) < VERIFY_BATCH:
            return None
        after = entries[-1].seq


def _stray(store: Store) -> Finding | None:
    stray = store.stray_event()
    return None if stray is None else stray_finding(stray)


def _against_checkpoint(
    cp: checkpoints.Checkpoint | None, walk: ChainWalk, head: LedgerHead
) -> Finding | None:
    if cp is None:
        return None
    if cp.seq > head.seq:
        return Finding(
            head.seq + 1,
            None,
            f"truncated: the checkpoint covers entry {cp.seq} but the chain ends at "
            f"entry {head.seq}",
        )
    held = (GENESIS_HASH, 0) if cp.seq == 0 else walk.watched
    if held != (cp.hash, cp.event_id):
        return Finding(
            cp.seq,
            None if held is None else held[1],
            f"entry {cp.seq}: differs from the checkpoint's (hash {cp.hash[:12]}…, event "
            f"{cp.event_id}): the chain was rewritten",
        )
    return None


def make_checkpoint(store: Store, private_key_pem: bytes) -> dict[str, Any]:
    """Seal what can be sealed, then return a checkpoint of the head signed with
    ``private_key_pem`` (an Ed25519 key, PEM), as the JSON object to keep."""
    checkpoints.load_private_key(private_key_pem)  # a bad key fails before any work
    seal(store)
    head = store.ledger_head()
    if head.seq:
        # Cheap, not a full verify: never sign a head that does not name its entry.
        last = store.ledger_entries(head.seq - 1, head.seq, 1)
        if not last or (last[0].hash, last[0].event_id) != (head.hash, head.event_id):
            raise Conflict(
                f"the ledger's head (entry {head.seq}) does not match its entry; "
                "run `coord audit verify`",
                seq=head.seq,
            )
    return checkpoints.sign_checkpoint(
        private_key_pem,
        seq=head.seq,
        hash=head.hash,
        event_id=head.event_id,
        created_at=datetime.now(UTC),
    )


def generate_signing_key() -> tuple[bytes, bytes]:
    """A new Ed25519 signing key for checkpoints: (private PEM, public PEM)."""
    return checkpoints.generate_key()


def public_key_pem(key_pem: bytes) -> bytes:
    """The public key (PEM) of a private key, or of a public key, given as PEM."""
    return checkpoints.public_key_pem(key_pem)
