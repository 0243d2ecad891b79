"""coord: a durable control plane for teams of AI agents.

The public API is what ``__all__`` lists; everything else may change.
"""

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
