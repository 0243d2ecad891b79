"""What a task of a workflow run sees of its run, through ``ctx``: the run input,
the results it builds on, its fan-out item, the gate's findings, and a way to store
artifacts with their provenance. On a plain task these are empty."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from coord.domain import content
from coord.domain.runs import artifact_digest
from coord.errors import InvalidInput
from coord.ports.runs import NewArtifact

if TYPE_CHECKING:
    from coord.runtime.attempt import Attempt
    from coord.runtime.context import AttemptServices

DEFAULT_MAX_ARTIFACT_BYTES = 16 * 1024 * 1024


class RunScope:
    """The run half of a task context (mixed into the contexts)."""

    __slots__ = ()
    _attempt: Attempt
    _services: AttemptServices

    @property
    def run_id(self) -> str | None:
        """The workflow run this task works for (None for a plain task)."""
        return self._attempt.task.run_id

    @property
    def phase(self) -> str | None:
        """The phase of the run this task works for."""
        return self._attempt.task.phase

    def _run_input(self) -> dict[str, Any]:
        return self._attempt.task.run_input or {}

    @property
    def input(self) -> Any:
        """The run's input."""
        return self._run_input().get("input")

    @property
    def results(self) -> dict[str, Any]:
        """The results of the phases this one runs after, by phase name (for a fix or
        compensation task, also this phase's own last result)."""
        return dict(self._run_input().get("results") or {})

    @property
    def item(self) -> Any:
        """The fan-out item this task handles (None outside a fan-out)."""
        return self._run_input().get("item")

    @property
    def item_index(self) -> int | None:
        """The position of :attr:`item` in the fan-out's list."""
        step = self._attempt.task.run_step or {}
        index = step.get("item")
        return None if index is None else int(index)

    @property
    def findings(self) -> dict[str, Any] | None:
        """What the phase's gate found wrong (for a fix task, and for the phase
        running again after it); None on a first run."""
        return self._run_input().get("findings")

    @property
    def loop(self) -> int:
        """How many gate fix loops came before this run of the phase."""
        return int(self._run_input().get("loop") or 0)

    @property
    def fix_result(self) -> Any:
        """What the fix task returned, when the phase runs again after it."""
        return self._run_input().get("fix")

    def _new_artifact(
        self,
        name: str,
        data: bytes | str | Any,
        media_type: str | None,
        tool: str | None,
        inputs: Sequence[str],
    ) -> NewArtifact:
        task = self._attempt.task
        if task.run_id is None or task.phase is None:
            raise InvalidInput("artifacts belong to workflow runs: this task has no run")
        if not name or len(name) > 200:
            raise InvalidInput("an artifact needs a name of 1-200 characters")
        try:
            content.check_texts({"name": name, "media_type": media_type, "tool": tool})
            for index, digest in enumerate(inputs):
                content.check_text(digest, f"inputs.{index}")
        except ValueError as exc:
            raise InvalidInput.of(exc) from None
        stored, kind = _artifact_bytes(data)
        limit = self._services.max_artifact_bytes
        if len(stored) > limit:
            raise InvalidInput(
                f"artifact {name!r} is {len(stored)} bytes, over the limit of {limit} "
                "(COORD_MAX_ARTIFACT_BYTES)"
            )
        step = task.run_step or {}
        return NewArtifact(
            run_id=task.run_id,
            phase=task.phase,
            phase_attempt=int(step.get("attempt", 0)),
            name=name,
            digest=artifact_digest(stored),
            content=stored,
            media_type=media_type or kind,
            task_id=task.id,
            task_attempt=task.attempt,
            producer=task.name,
            tool=tool,
            inputs=tuple(inputs),
        )


def _artifact_bytes(data: bytes | str | Any) -> tuple[bytes, str]:
    """Artifact content as bytes, with the media type its kind implies (bytes and
    text are stored as given, NUL characters included: they are not JSON)."""
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data), "application/octet-stream"
    if isinstance(data, str):
        return data.encode("utf-8"), "text/plain; charset=utf-8"
    try:
        return content.encode(data, "content").encode("utf-8"), "application/json"
    except content.ContentInvalid as exc:
        raise InvalidInput(
            f"artifact content must be bytes, text or JSON data: {exc}", field=exc.field
        ) from None
