"""Task-queue methods written once for both stores (see :class:`coord.ports.store.Store`):
reads of policies, steps, tasks, their events and dead letters, whose dialects differ
only in SQL text (``_task_queries``, each dialect's ``queries.sql``). Claims,
renewals, outcomes and every other write stay per dialect: they are the hot paths,
shaped by each database's locking."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from coord.domain.tasks import TaskPolicy, policy_from_dict
from coord.domain.views import DeadLetterGroup, EventInfo, TaskInfo
from coord.ports.store import TaskFilter
from coord.storage.shared.session import Dialect


class TaskReadsWrittenOnce(Dialect):
    """The task-queue reads whose dialects differ only in SQL text."""

    _task_queries: Mapping[str, str]

    def get_policy(self, name: str) -> TaskPolicy | None:
        """The registered policy of ``name``."""
        with self._reading() as s:
            row = s.one(self._task_queries["get_policy"], {"name": name})
        return None if row is None else policy_from_dict(self._reader.json_value(row[0]))

    def registered_tasks(self, names: Sequence[str]) -> set[str]:
        """Which of ``names`` have a registered policy."""
        params = {"names": self._id_list(list(names))}
        with self._reading() as s:
            return {r[0] for r in s.all(self._task_queries["registered_tasks"], params)}

    def load_steps(self, task_id: str) -> dict[str, str]:
        """Recorded step results by step name."""
        with self._reading() as s:
            rows = s.all(self._task_queries["load_steps"], {"task_id": task_id})
        return {row[0]: row[1] for row in rows}

    def get_task(self, task_id: str) -> TaskInfo | None:
        """One task by id."""
        rows = self._dict_rows(self._task_queries["get_task"], {"id": task_id})
        return self._reader.task(rows[0]) if rows else None

    def list_tasks(self, task_filter: TaskFilter) -> list[TaskInfo]:
        """Tasks matching the filter, newest first."""
        params = {
            "state": None if task_filter.state is None else task_filter.state.value,
            "queue": task_filter.queue,
            "name": task_filter.name,
            "limit": task_filter.limit,
            "before": task_filter.before_id,
        }
        rows = self._dict_rows(self._task_queries["list_tasks"], params)
        return [self._reader.task(row) for row in rows]

    def task_events(self, task_id: str) -> list[EventInfo]:
        """A task's events, oldest first."""
        rows = self._dict_rows(self._task_queries["task_events"], {"id": task_id})
        return [self._reader.event(row) for row in rows]

    def dead_letter_groups(self) -> list[DeadLetterGroup]:
        """Dead tasks grouped by error type and message."""
        rows = self._dict_rows(self._task_queries["dead_letter_groups"], {})
        return [self._reader.dead_letter_group(r) for r in rows]
