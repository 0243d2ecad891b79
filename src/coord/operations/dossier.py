"""A run's dossier: everything needed to review it after the fact, as files.

``DIR/run.json`` (the run and its phases), ``gates.json`` (every gate evaluation,
waiver and approval, from the event history), ``cost.json`` (usage per phase against
its budget), ``events.jsonl`` (the whole history, oldest first), ``artifacts.json``
(each artifact's provenance) and ``artifacts/PHASE/NAME`` (their bytes, checked
against their digests).

The dossier is built from what the runs surface answers (``runs.dossier(run)``
gathers it), so it is the same file for file whether the run was read from the
database or from a coord server, and it is written where the caller is
(:meth:`Dossier.write`): to a temporary folder next to ``DIR``, renamed into place,
so that a failure leaves no half-written dossier.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coord.domain import codec
from coord.domain.files import unwritable
from coord.domain.run_views import ArtifactInfo, RunCost, RunInfo
from coord.domain.runs import artifact_digest
from coord.domain.views import EventInfo
from coord.errors import Conflict, CoordError, InvalidInput

_GATE_TOPICS = (
    "phase.gate.passed",
    "phase.gate.failed",
    "phase.gate.waived",
    "phase.waiver.recorded",
    "phase.approval.requested",
    "phase.approved",
    "phase.rejected",
)
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")


@dataclass(frozen=True, slots=True)
class Dossier:
    """A run's dossier as files: their paths (relative to the dossier's folder, with
    ``/``) and bytes. Write it with :meth:`write`."""

    run_id: str
    files: Mapping[str, bytes]

    def write(self, out: str | Path) -> list[str]:
        """Write the files into the new (or empty) folder ``out`` (its missing parents
        are made); return their paths, sorted. ``Conflict`` if ``out`` holds
        anything, ``InvalidInput`` (field ``out``) if it cannot be written; either
        way nothing is left behind."""
        target = Path(out)
        _check_target(target)
        missing = [p for p in reversed(target.parents) if not p.exists()]  # outermost first
        staging: Path | None = None
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=".dossier-", dir=target.parent))
            for name, data in self.files.items():
                path = staging / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            if target.exists():
                target.rmdir()
            staging.rename(target)
        except BaseException as exc:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
            for folder in reversed(missing):  # the folders made for it, innermost first
                with suppress(OSError):
                    folder.rmdir()
            if isinstance(exc, OSError):
                raise InvalidInput(f"the dossier: {unwritable(target, exc)}", field="out") from None
            raise
        return sorted(self.files)


def assemble(
    run: RunInfo,
    cost: RunCost,
    events: Sequence[EventInfo],
    artifacts: Sequence[ArtifactInfo],
    contents: Mapping[str, bytes],
) -> Dossier:
    """The dossier of ``run`` from its parts (``contents``: each artifact's bytes by
    digest, each checked against its digest)."""
    files: dict[str, bytes] = {
        "run.json": _json(run.model_dump(mode="json")),
        "cost.json": _json(cost.model_dump(mode="json")),
        "gates.json": _json([e.model_dump(mode="json") for e in events if e.topic in _GATE_TOPICS]),
        "events.jsonl": b"".join(
            codec.dumps(e.model_dump(mode="json")).encode() + b"\n" for e in events
        ),
        "artifacts.json": _json([a.model_dump(mode="json") for a in artifacts]),
    }
    for artifact in artifacts:
        content = contents[artifact.digest]
        if artifact_digest(content) != artifact.digest:
            raise CoordError(f"artifact {artifact.digest} does not match its digest")
        name = f"artifacts/{_safe(artifact.phase)}/{_safe(artifact.name)}"
        if artifact.phase_attempt > 1:
            name += f".attempt{artifact.phase_attempt}"
        files[name] = content
    return Dossier(run.id, files)


def _check_target(target: Path) -> None:
    """Refuse a target that is not a new (or empty) folder, or that is under a file."""
    try:
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            raise Conflict(f"{target} exists and is not an empty folder: choose a new one")
        above = next((p for p in target.parents if p.exists()), None)
    except OSError as exc:
        raise InvalidInput(f"the dossier: {unwritable(target, exc)}", field="out") from None
    if above is not None and not above.is_dir():
        raise InvalidInput(
            f"the dossier: cannot write {target}: {above} is a file, not a folder", field="out"
        )


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def _safe(name: str) -> str:
    """A file name from an artifact or phase name (no folders, no dot files)."""
    cleaned = _UNSAFE.sub("_", name).lstrip(".")
    return cleaned or "_"
