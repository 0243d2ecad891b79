"""coord: a durable control plane for teams of AI agents.

The public API is what ``__all__`` lists; everything else may change.
"""

from coord.app import App, TaskHandle
from coord.domain.tasks import Priority, TaskState
from coord.domain.views import DeadLetterGroup, QueueStats, TaskInfo
from coord.errors import (
    Conflict,
    CoordError,
    FatalError,
    IdempotencyConflict,
    InvalidInput,
    LeaseLost,
    NotFound,
    SchemaError,
    SchemaOutdated,
    TaskCancelled,
    TaskFailed,
    TransientError,
    UnknownTask,
    WaitTimeout,
)
from coord.runtime.context import Context, SyncContext
from coord.runtime.middleware import TaskCall
from coord.runtime.registry import TaskDefinition
from coord.runtime.worker import Worker, WorkerStats
from coord.settings import Settings

__all__ = [
    "App",
    "Conflict",
    "Context",
    "CoordError",
    "DeadLetterGroup",
    "FatalError",
    "IdempotencyConflict",
    "InvalidInput",
    "LeaseLost",
    "NotFound",
    "Priority",
    "QueueStats",
    "SchemaError",
    "SchemaOutdated",
    "Settings",
    "SyncContext",
    "TaskCall",
    "TaskCancelled",
    "TaskDefinition",
    "TaskFailed",
    "TaskHandle",
    "TaskInfo",
    "TaskState",
    "TransientError",
    "UnknownTask",
    "WaitTimeout",
    "Worker",
    "WorkerStats",
]

__version__ = "0.1.0"
