"""Workflow-run methods written once for both stores (see :class:`coord.ports.runs.RunStore`):
definitions, run events and artifacts, whose dialects differ only in SQL text
(``_run_queries``, each dialect's ``runs.sql``). Changing a run stays per dialect:
PostgreSQL locks the run's row and writes a decision in one statement, SQLite holds
its write lock."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from coord.domain import codec
from coord.domain.run_views import ArtifactInfo, WorkflowInfo
from coord.domain.views import EventInfo
from coord.storage.rows import runs as run_rows
from coord.storage.shared.session import Dialect


class RunsWrittenOnce(Dialect):
    """The run methods whose dialects differ only in SQL text."""

    _run_queries: Mapping[str, str]

    def register_workflows(self, definitions: Sequence[dict[str, Any]]) -> None:
        """Record workflow definitions by name."""
        with self._writing() as s:
            for definition in definitions:
                params = {"name": definition["name"], "definition": codec.dumps(definition)}
                s.count(self._run_queries["upsert_workflow"], params)

    def list_workflows(self) -> list[WorkflowInfo]:
        """Registered workflows by name."""
        with self._reading() as s:
            rows = s.all(self._run_queries["list_workflows"])
        return [run_rows.workflow_info(r, self._reader) for r in rows]

    def get_workflow(self, name: str) -> WorkflowInfo | None:
        """One registered workflow."""
        with self._reading() as s:
            row = s.one(self._run_queries["get_workflow"], {"name": name})
        return None if row is None else run_rows.workflow_info(row, self._reader)

    def run_events(self, run_id: str, after_id: int = 0) -> list[EventInfo]:
        """The run's events and its tasks', oldest first."""
        rows = self._dict_rows(self._run_queries["run_events"], {"id": run_id, "after": after_id})
        return [self._reader.event(r) for r in rows]

    def run_artifacts(self, run_id: str) -> list[ArtifactInfo]:
        """The run's artifacts, oldest first."""
        with self._reading() as s:
            rows = s.all(self._run_queries["run_artifacts"], {"id": run_id})
        return [run_rows.artifact_info(r, self._reader) for r in rows]

    def artifact_content(self, digest: str) -> bytes | None:
        """An artifact's bytes."""
        with self._reading() as s:
            row = s.one(self._run_queries["artifact_content"], {"digest": digest})
        return None if row is None else bytes(row[0])
