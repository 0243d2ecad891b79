"""coord: a durable control plane for teams of AI agents.

The public API is what ``__all__`` lists; everything else may change.
"""

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
