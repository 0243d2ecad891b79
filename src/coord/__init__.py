"""coord: a durable control plane for teams of AI agents.

The public API is what ``__all__`` lists; everything else may change.
"""

from coord.app import App, TaskHandle
from coord.domain.messages import DeliveryState, SendResult
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
from coord.messaging.hooks import MessageReceipt, MessageSend
from coord.runtime.context import Context, SyncContext
from coord.runtime.middleware import TaskCall
from coord.runtime.registry import TaskDefinition
from coord.runtime.worker import Worker, WorkerStats
from coord.services.messages import Outgoing
from coord.settings import Settings

__all__ = [
    "AgentContext",
    "AgentInfo",
    "App",
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
    "LeaseLost",
    "MessageInfo",
    "MessageReceipt",
    "MessageSend",
    "NotFound",
    "Outgoing",
    "Priority",
    "QueueStats",
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
]

__version__ = "0.1.0"
