"""coord: a durable control plane for teams of AI agents.

The public API is what ``__all__`` lists; everything else may change.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from coord.app import App, TaskHandle
    from coord.app_runs import RunHandle
    from coord.client import AsyncClient, Client
    from coord.domain.messages import DeliveryState, SendResult
    from coord.domain.run_views import (
        ArtifactInfo,
        PhaseInfo,
        RunCost,
        RunInfo,
        RunPlan,
        WorkflowInfo,
    )
    from coord.domain.runs import PhaseState, RunState
    from coord.domain.tasks import Priority, TaskState
    from coord.domain.views import (
        AgentInfo,
        DeadLetterGroup,
        DeliveryInfo,
        InboxMessage,
        MessageInfo,
        QueueStats,
        TaskInfo,
    )
    from coord.domain.workflows import WorkflowSpec
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
    from coord.messaging.handlers import AgentContext
    from coord.messaging.plugins import MessageReceipt, MessageSend
    from coord.runtime.context import Context, SyncContext
    from coord.runtime.middleware import TaskCall
    from coord.runtime.registry import TaskDefinition
    from coord.runtime.worker import Worker, WorkerStats
    from coord.services.messages import Outgoing
    from coord.services.runs import InvalidWorkflow
    from coord.settings import Settings
    from coord.workflows.definitions import Workflow

__all__ = [
    "AgentContext",
    "AgentInfo",
    "App",
    "ArtifactInfo",
    "AsyncClient",
    "Client",
    "Conflict",
    "Context",
    "CoordError",
    "DeadLetterGroup",
    "DeliveryInfo",
    "DeliveryState",
    "FatalError",
    "IdempotencyConflict",
    "InboxMessage",
    "InvalidInput",
    "InvalidWorkflow",
    "LeaseLost",
    "MessageInfo",
    "MessageReceipt",
    "MessageSend",
    "NotFound",
    "Outgoing",
    "PhaseInfo",
    "PhaseState",
    "Priority",
    "QueueStats",
    "RunCost",
    "RunHandle",
    "RunInfo",
    "RunPlan",
    "RunState",
    "SchemaError",
    "SchemaOutdated",
    "SendResult",
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
    "Workflow",
    "WorkflowInfo",
    "WorkflowSpec",
]

__version__ = "0.1.0"

# Where each public name lives. Imported on first use (module ``__getattr__``, PEP 562)
# rather than here: ``import coord`` would otherwise load the engine, both database
# drivers and the HTTP client, a second of start-up for every ``coord`` command.
_EXPORTS = {
    "AgentContext": "coord.messaging.handlers",
    "AgentInfo": "coord.domain.views",
    "App": "coord.app",
    "ArtifactInfo": "coord.domain.run_views",
    "AsyncClient": "coord.client",
    "Client": "coord.client",
    "Conflict": "coord.errors",
    "Context": "coord.runtime.context",
    "CoordError": "coord.errors",
    "DeadLetterGroup": "coord.domain.views",
    "DeliveryInfo": "coord.domain.views",
    "DeliveryState": "coord.domain.messages",
    "FatalError": "coord.errors",
    "IdempotencyConflict": "coord.errors",
    "InboxMessage": "coord.domain.views",
    "InvalidInput": "coord.errors",
    "InvalidWorkflow": "coord.services.runs",
    "LeaseLost": "coord.errors",
    "MessageInfo": "coord.domain.views",
    "MessageReceipt": "coord.messaging.plugins",
    "MessageSend": "coord.messaging.plugins",
    "NotFound": "coord.errors",
    "Outgoing": "coord.services.messages",
    "PhaseInfo": "coord.domain.run_views",
    "PhaseState": "coord.domain.runs",
    "Priority": "coord.domain.tasks",
    "QueueStats": "coord.domain.views",
    "RunCost": "coord.domain.run_views",
    "RunHandle": "coord.app_runs",
    "RunInfo": "coord.domain.run_views",
    "RunPlan": "coord.domain.run_views",
    "RunState": "coord.domain.runs",
    "SchemaError": "coord.errors",
    "SchemaOutdated": "coord.errors",
    "SendResult": "coord.domain.messages",
    "Settings": "coord.settings",
    "SyncContext": "coord.runtime.context",
    "TaskCall": "coord.runtime.middleware",
    "TaskCancelled": "coord.errors",
    "TaskDefinition": "coord.runtime.registry",
    "TaskFailed": "coord.errors",
    "TaskHandle": "coord.app",
    "TaskInfo": "coord.domain.views",
    "TaskState": "coord.domain.tasks",
    "TransientError": "coord.errors",
    "UnknownTask": "coord.errors",
    "WaitTimeout": "coord.errors",
    "Worker": "coord.runtime.worker",
    "WorkerStats": "coord.runtime.worker",
    "Workflow": "coord.workflows.definitions",
    "WorkflowInfo": "coord.domain.run_views",
    "WorkflowSpec": "coord.domain.workflows",
}


def __getattr__(name: str) -> Any:
    """Import a public name on first use and keep it as a module attribute."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'coord' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names, for ``dir(coord)`` and completion in a REPL."""
    return sorted({*globals(), *__all__})
