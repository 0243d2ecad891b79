"""coord: a durable control plane for teams of AI agents.

The public API is what ``__all__`` lists; everything else may change.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from coord.app import App, TaskHandle
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
        ConfigError,
        Conflict,
        CoordError,
        FatalError,
        Forbidden,
        HandlerTimeout,
        IdempotencyConflict,
        InvalidInput,
        InvalidWorkflow,
        LeaseLost,
        NotFound,
        RateLimited,
        SchemaError,
        SchemaOutdated,
        SchemaTooNew,
        SecretUnavailable,
        ServerUnavailable,
        SettingMissing,
        StoreError,
        StoreUnavailable,
        TaskCancelled,
        TaskFailed,
        TransientError,
        Unauthenticated,
        UnknownTask,
        WaitTimeout,
    )
    from coord.messaging.handlers import AgentContext
    from coord.messaging.plugins import MessageReceipt, MessageSend
    from coord.operations import (
        AsyncSurface,
        Dossier,
        Draft,
        Enqueued,
        EnqueueOptions,
        InboxQuery,
        Me,
        RunFilter,
        RunHandle,
        Started,
        Subscription,
        Surface,
        TaskFilter,
    )
    from coord.runtime.context import Context, SyncContext
    from coord.runtime.middleware import TaskCall
    from coord.runtime.registry import TaskDefinition
    from coord.runtime.worker import Worker, WorkerStats
    from coord.services.messages import Outgoing
    from coord.settings import Settings
    from coord.workflows.definitions import Workflow

__all__ = [
    "AgentContext",
    "AgentInfo",
    "App",
    "ArtifactInfo",
    "AsyncClient",
    "AsyncSurface",
    "Client",
    "ConfigError",
    "Conflict",
    "Context",
    "CoordError",
    "DeadLetterGroup",
    "DeliveryInfo",
    "DeliveryState",
    "Dossier",
    "Draft",
    "EnqueueOptions",
    "Enqueued",
    "FatalError",
    "Forbidden",
    "HandlerTimeout",
    "IdempotencyConflict",
    "InboxMessage",
    "InboxQuery",
    "InvalidInput",
    "InvalidWorkflow",
    "LeaseLost",
    "Me",
    "MessageInfo",
    "MessageReceipt",
    "MessageSend",
    "NotFound",
    "Outgoing",
    "PhaseInfo",
    "PhaseState",
    "Priority",
    "QueueStats",
    "RateLimited",
    "RunCost",
    "RunFilter",
    "RunHandle",
    "RunInfo",
    "RunPlan",
    "RunState",
    "SchemaError",
    "SchemaOutdated",
    "SchemaTooNew",
    "SecretUnavailable",
    "SendResult",
    "ServerUnavailable",
    "SettingMissing",
    "Settings",
    "Started",
    "StoreError",
    "StoreUnavailable",
    "Subscription",
    "Surface",
    "SyncContext",
    "TaskCall",
    "TaskCancelled",
    "TaskDefinition",
    "TaskFailed",
    "TaskFilter",
    "TaskHandle",
    "TaskInfo",
    "TaskState",
    "TransientError",
    "Unauthenticated",
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
    "AsyncSurface": "coord.operations",
    "Client": "coord.client",
    "ConfigError": "coord.errors",
    "Conflict": "coord.errors",
    "Context": "coord.runtime.context",
    "CoordError": "coord.errors",
    "DeadLetterGroup": "coord.domain.views",
    "DeliveryInfo": "coord.domain.views",
    "DeliveryState": "coord.domain.messages",
    "Dossier": "coord.operations",
    "Draft": "coord.operations",
    "EnqueueOptions": "coord.operations",
    "Enqueued": "coord.operations",
    "FatalError": "coord.errors",
    "Forbidden": "coord.errors",
    "HandlerTimeout": "coord.errors",
    "IdempotencyConflict": "coord.errors",
    "InboxMessage": "coord.domain.views",
    "InboxQuery": "coord.operations",
    "InvalidInput": "coord.errors",
    "InvalidWorkflow": "coord.errors",
    "LeaseLost": "coord.errors",
    "Me": "coord.operations",
    "MessageInfo": "coord.domain.views",
    "MessageReceipt": "coord.messaging.plugins",
    "MessageSend": "coord.messaging.plugins",
    "NotFound": "coord.errors",
    "Outgoing": "coord.services.messages",
    "PhaseInfo": "coord.domain.run_views",
    "PhaseState": "coord.domain.runs",
    "Priority": "coord.domain.tasks",
    "QueueStats": "coord.domain.views",
    "RateLimited": "coord.errors",
    "RunCost": "coord.domain.run_views",
    "RunFilter": "coord.operations",
    "RunHandle": "coord.operations",
    "RunInfo": "coord.domain.run_views",
    "RunPlan": "coord.domain.run_views",
    "RunState": "coord.domain.runs",
    "SchemaError": "coord.errors",
    "SchemaOutdated": "coord.errors",
    "SchemaTooNew": "coord.errors",
    "SecretUnavailable": "coord.errors",
    "SendResult": "coord.domain.messages",
    "ServerUnavailable": "coord.errors",
    "SettingMissing": "coord.errors",
    "Settings": "coord.settings",
    "Started": "coord.operations",
    "StoreError": "coord.errors",
    "StoreUnavailable": "coord.errors",
    "Subscription": "coord.operations",
    "Surface": "coord.operations",
    "SyncContext": "coord.runtime.context",
    "TaskCall": "coord.runtime.middleware",
    "TaskCancelled": "coord.errors",
    "TaskDefinition": "coord.runtime.registry",
    "TaskFailed": "coord.errors",
    "TaskFilter": "coord.operations",
    "TaskHandle": "coord.app",
    "TaskInfo": "coord.domain.views",
    "TaskState": "coord.domain.tasks",
    "TransientError": "coord.errors",
    "Unauthenticated": "coord.errors",
    "UnknownTask": "coord.errors",
    "WaitTimeout": "coord.errors",
    "Worker": "coord.runtime.worker",
    "WorkerStats": "coord.runtime.worker",
    "Workflow": "coord.workflows.definitions",
    "WorkflowInfo": "coord.domain.run_views",
    "WorkflowSpec": "coord.domain.workflows",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'coord' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
