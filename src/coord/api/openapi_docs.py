"""What the OpenAPI document tells people beyond the routes' code: a summary per
operation, a description per tag, the errors each operation can answer (as
``application/problem+json``), ids typed as UUIDs, and an example request and
answer per operation (``examples.json``, captured from real calls by
``python -m tests.api.capture_examples``).

Kept here, by ``operationId``, so that the route modules hold only what runs.
"""

from __future__ import annotations

import functools
import json
from importlib.resources import files
from typing import Any

from coord.api.problems import PROBLEM_JSON, Problem

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}

TAGS: list[dict[str, str]] = [
    {"name": "agents", "description": "Who is registered, who is calling (`/me`), and "
     "which topics an agent follows."},
    {"name": "messages", "description": "Messages between agents: send as yourself, read "
     "an inbox (or take the next unread message), acknowledge, follow a thread."},
    {"name": "tasks", "description": "The durable queue: enqueue work for workers, watch "
     "it, cancel or retry it; queue depths and the dead letters."},
    {"name": "runs", "description": "Workflow runs: plan and start them, follow their "
     "phases, pause, resume, cancel or retry them, approve or reject their gates, set "
     "their budgets, read their artifacts."},
    {"name": "events", "description": "Everything that happened, in order: a page of the "
     "feed, or a live Server-Sent Events stream that resumes with Last-Event-ID."},
    {"name": "audit", "description": "The tamper-evident ledger of events: its state, "
     "verification, and signed checkpoints."},
    {"name": "keys", "description": "API keys (for callers with manage_keys): create, "
     "list, revoke. A key takes its agent's role."},
    {"name": "health", "description": "Liveness and readiness, without a key."},
]  # fmt: skip

SUMMARIES: dict[str, str] = {
    "healthz": "Check that the server process answers",
    "readyz": "Check that the database is reachable and migrated",
    "whoami": "Show who the API key belongs to",
    "listAgents": "List the registered agents",
    "createAgent": "Register an agent",
    "getAgent": "Show one agent",
    "removeAgent": "Remove an agent (its mail is kept)",
    "subscribe": "Subscribe an agent to a topic",
    "unsubscribe": "Unsubscribe an agent from a topic",
    "sendMessage": "Send a message as the caller",
    "sendMessages": "Send several messages at once, all or none",
    "listInbox": "List the messages of an inbox",
    "readMessage": "Read one message of an inbox (marks it read)",
    "takeMessage": "Take the next unread message of an inbox",
    "ackMessages": "Acknowledge messages of an inbox",
    "getMessage": "Show a message and its deliveries",
    "messageEvents": "List the events of a message",
    "getThread": "List the messages of a thread",
    "enqueueTask": "Enqueue a task",
    "enqueueTasks": "Enqueue several tasks at once, all or none",
    "listTasks": "List tasks, newest first",
    "getTask": "Show one task",
    "taskEvents": "List the history of a task",
    "cancelTask": "Cancel a task",
    "retryTask": "Retry a dead, failed or cancelled task",
    "listQueues": "Show each queue's depth by state",
    "listDeadLetters": "List the dead tasks, grouped by error",
    "retryDeadLetters": "Retry dead tasks (named ones, or all)",
    "listWorkflows": "List the registered workflows",
    "getWorkflow": "Show a registered workflow and its definition",
    "planRun": "Show what a run would do, without running it",
    "startRun": "Start a workflow run",
    "listRuns": "List runs, newest first",
    "getRun": "Show a run and its phases",
    "runEvents": "List the history of a run",
    "runCost": "Show a run's usage against its budgets",
    "listArtifacts": "List the artifacts of a run, with their provenance",
    "getArtifact": "Download the bytes of an artifact of a run",
    "pauseRun": "Pause a run",
    "resumeRun": "Resume a paused run",
    "cancelRun": "Cancel a run (compensating what it did)",
    "retryRun": "Retry a failed or cancelled run",
    "approvePhase": "Approve a phase waiting for a person",
    "rejectPhase": "Reject a phase waiting for a person",
    "waiveGate": "Waive a phase's gate for a while",
    "setBudget": "Set the budget of a run or a phase",
    "listEvents": "Read a page of the event feed",
    "streamEvents": "Follow the event feed live (Server-Sent Events)",
    "auditStatus": "Show the audit ledger's head and lag",
    "auditVerify": "Verify the audit ledger",
    "auditCheckpoint": "Sign a checkpoint of the audit ledger",
    "createKey": "Create an API key for an agent",
    "listKeys": "List API keys (never their secrets)",
    "revokeKey": "Revoke an API key",
}

_ERRORS: dict[int, str] = {
    400: "The body is not JSON (`malformed_json`)",
    401: "No API key, or a bad one (`unauthenticated`)",
    403: "The caller's role does not allow it (`forbidden`)",
    404: "No such object, or one the caller may not see (`not_found`)",
    409: "It contradicts the stored state (`conflict`)",
    413: "The body is too large (`payload_too_large`)",
    415: "The body is not sent as JSON (`unsupported_media_type`)",
    422: "Invalid input; `field` names it (`invalid_input` and its kin)",
    429: "Rate limited; see Retry-After (`rate_limited`)",
    503: "The database is unavailable, or the server lacks a setting (named)",
}
# Besides those with a path parameter: operations that look up what a body or a
# query names.
_NOT_FOUND = {
    "sendMessage", "sendMessages", "startRun", "createKey", "retryDeadLetters",
    "listEvents", "streamEvents", "ackMessages", "listKeys",
}  # fmt: skip
_CONFLICT = {
    "createAgent", "removeAgent", "cancelTask", "retryTask", "retryDeadLetters",
    "pauseRun", "resumeRun", "cancelRun", "retryRun", "approvePhase", "rejectPhase",
    "waiveGate", "setBudget", "revokeKey", "sendMessage", "sendMessages", "enqueueTask",
    "enqueueTasks", "startRun", "createKey", "subscribe", "unsubscribe", "auditVerify",
}  # fmt: skip
_UNAUTHENTICATED = {"healthz", "readyz"}

# Schema properties that hold UUIDs, by schema (ids of keys are not UUIDs).
_UUID_FIELDS: dict[str, set[str]] = {
    "TaskInfo": {"id", "run_id"},
    "EventInfo": {"task_id", "message_id", "run_id"},
    "DeadLetterGroup": {"sample_task_id"},
    "MessageInfo": {"id", "thread_id", "reply_to"},
    "InboxMessage": {"id", "thread_id", "reply_to"},
    "RunInfo": {"id"},
    "RunCost": {"run_id"},
    "ArtifactInfo": {"run_id", "task_id"},
    "SendResult": {"id", "thread_id"},
    "Enqueued": {"id"},
    "Started": {"id"},
    "SendBody": {"thread_id", "reply_to"},
    "AckBody": {"ids"},
    "Acked": {"acked"},
    "ReplayBody": {"task_ids"},
    "Replayed": {"replayed"},
}
_UUID_PARAMETERS = {"task_id", "message_id", "thread_id", "run_id", "run"}
_STREAM_EXAMPLE = (
    "id: 1:42\nevent: task.succeeded\n"
    'data: {"id": 42, "topic": "task.succeeded", "task_id": "01a25148-6613-7185-ac14-65009b4115e2"'
    ', "actor": "worker-1", "data": null, "created_at": "2026-12-07T16:13:49Z"}\n\n'
)

_ARTIFACT_EXAMPLE = "# PRD\n\nShip the release notes with the build.\n"


@functools.cache
def examples() -> dict[str, dict[str, Any]]:
    """The captured example request and answer of each operation."""
    found: dict[str, dict[str, Any]] = json.loads(
        (files("coord.api") / "examples.json").read_text(encoding="utf-8")
    )
    return found


def error_statuses(operation_id: str, operation: dict[str, Any]) -> list[int]:
    """The error statuses an operation can answer."""
    if operation_id in _UNAUTHENTICATED:
        return [503] if operation_id == "readyz" else []
    statuses = {401, 403, 422, 429, 503}
    if "requestBody" in operation:
        statuses |= {400, 413, 415}
    in_path = any(p.get("in") == "path" for p in operation.get("parameters", []))
    if in_path or operation_id in _NOT_FOUND:
        statuses.add(404)
    if operation_id in _CONFLICT:
        statuses.add(409)
    return sorted(statuses)


def _uuid(schema: dict[str, Any]) -> None:
    """Make a string (or a list of strings) schema a UUID."""
    for option in schema.get("anyOf", [schema]):
        if option.get("type") == "string":
            option["format"] = "uuid"
        elif option.get("type") == "array":
            _uuid(option["items"])


def _describe_operation(operation: dict[str, Any]) -> None:
    operation_id = operation["operationId"]
    # An operation added without a summary here keeps FastAPI's (a test fails on it).
    operation["summary"] = SUMMARIES.get(operation_id, operation.get("summary", ""))
    for parameter in operation.get("parameters", []):
        if parameter["name"] in _UUID_PARAMETERS:
            _uuid(parameter["schema"])
    responses = operation["responses"]
    for status in [s for s in responses if s[:1] in "45"]:
        del responses[status]  # replaced by what this operation can answer
    for status in error_statuses(operation_id, operation):
        responses[str(status)] = {
            "description": _ERRORS[status],
            "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}},
        }
    example = examples().get(operation_id, {})
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if body is not None and "request" in example:
        body["example"] = example["request"]
    for status, response in responses.items():
        content = response.get("content", {})
        if status.startswith("2") and "application/json" in content and "response" in example:
            content["application/json"]["example"] = example["response"]
        if "text/event-stream" in content:
            content["text/event-stream"]["example"] = _STREAM_EXAMPLE
        if "application/octet-stream" in content:
            content["application/octet-stream"]["example"] = _ARTIFACT_EXAMPLE


def describe(schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document with summaries, tag descriptions, each operation's
    errors (as problem+json), UUID formats and examples."""
    schema["tags"] = TAGS
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("Problem", Problem.model_json_schema())
    for name, fields in _UUID_FIELDS.items():
        properties = components[name]["properties"]
        for field in fields:
            _uuid(properties[field])
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            _describe_operation(operation)
    return schema
