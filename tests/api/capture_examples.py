"""Regenerate ``src/coord/api/examples.json``, the request and response examples of
the OpenAPI document, from real calls to a server over a fresh SQLite database:
``python -m tests.api.capture_examples``. (Each example is checked against its
schema by tests/api/test_openapi_document.py.)"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from tests.api.harness import Api, running_api

OUT = Path(__file__).parents[2] / "src" / "coord" / "api" / "examples.json"
ARTIFACT = {
    "run_id": "019afa6b-7c2e-7d3a-9f1e-3b5a2c4d6e8f",
    "phase": "build",
    "name": "notes.md",
    "digest": "sha256:" + "5f0c3e" * 10 + "5f0c",
    "size": 42,
    "media_type": "text/markdown; charset=utf-8",
    "task_id": "019afa6b-7c31-72b4-8a6d-1c9e0f2b3a4d",
    "task_attempt": 1,
    "phase_attempt": 1,
    "producer": "build",
    "tool": "writer@1.2",
    "inputs": [],
    "created_at": "2026-12-07T20:32:55.622776Z",
}


def _trim(value: Any) -> Any:
    """One item per list (an example, not a dump)."""
    if isinstance(value, dict):
        return {k: _trim(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_trim(v) for v in value[:1]]
    return value


class Capture:
    """Calls that keep what they sent and got, by operation."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.found: dict[str, dict[str, Any]] = {}

    def __call__(
        self, operation: str, agent: str, method: str, path: str, body: Any = None, **kw: Any
    ) -> Any:
        kwargs = {"json": body} if body is not None else {}
        answer = self.api.call(agent, method, "/api/v1" + path, **kwargs, **kw)
        assert answer.status_code < 300, (operation, answer.status_code, answer.text)
        entry: dict[str, Any] = {}
        if body is not None:
            entry["request"] = body
        if answer.content:
            entry["response"] = _trim(answer.json())
        self.found.setdefault(operation, entry)
        return answer.json() if answer.content else None


def capture(api: Api) -> dict[str, dict[str, Any]]:
    """Every operation, called once (or more, to have something to show)."""
    c = Capture(api)
    c("whoami", "alice", "GET", "/me")
    c("createAgent", "root", "POST", "/agents", {"name": "reviewer", "description": "Reviews PRs"})
    c("listAgents", "root", "GET", "/agents", params={"limit": 1})
    c("getAgent", "root", "GET", "/agents/reviewer")
    c("subscribe", "alice", "PUT", "/agents/alice/topics/releases")
    c("unsubscribe", "alice", "DELETE", "/agents/alice/topics/releases")
    c("removeAgent", "root", "DELETE", "/agents/reviewer")
    note = {"to": "bob", "subject": "review PR 42", "body": {"pr": 42}, "priority": "high"}
    sent = c("sendMessage", "alice", "POST", "/messages", note)
    batch = {"messages": [{"to": "bob", "subject": "tests are green", "thread_id": sent["id"]}]}
    c("sendMessages", "alice", "POST", "/messages/batch", batch)
    c("listInbox", "bob", "GET", "/agents/bob/inbox", params={"unread": True})
    c("readMessage", "bob", "POST", f"/agents/bob/inbox/{sent['id']}/read")
    c("takeMessage", "bob", "POST", "/agents/bob/inbox/next")
    c("ackMessages", "bob", "POST", "/agents/bob/inbox/ack", {"ids": [sent["id"]]})
    c("getMessage", "alice", "GET", f"/messages/{sent['id']}")
    c("messageEvents", "alice", "GET", f"/messages/{sent['id']}/events")
    c("getThread", "alice", "GET", f"/threads/{sent['thread_id']}")
    task = {"task": "work", "payload": {"n": 1}, "priority": "high", "key": "order-1"}
    enqueued = c("enqueueTask", "alice", "POST", "/tasks", task)
    many = {"task": "work", "items": [{"payload": {"n": 2}}, {"payload": {"n": 3}}]}
    c("enqueueTasks", "alice", "POST", "/tasks/batch", many)
    c("listTasks", "alice", "GET", "/tasks", params={"state": "pending", "limit": 1})
    c("getTask", "alice", "GET", f"/tasks/{enqueued['id']}")
    c("cancelTask", "alice", "POST", f"/tasks/{enqueued['id']}/cancel")
    c("taskEvents", "alice", "GET", f"/tasks/{enqueued['id']}/events")
    c("retryTask", "root", "POST", f"/tasks/{enqueued['id']}/retry", {"reset_steps": False})
    c("listQueues", "alice", "GET", "/queues")
    c("listDeadLetters", "alice", "GET", "/dead-letters")
    c("retryDeadLetters", "root", "POST", "/dead-letters/retry", {"all": True})
    c("listWorkflows", "alice", "GET", "/workflows")
    c("getWorkflow", "alice", "GET", "/workflows/flow")
    c("planRun", "alice", "POST", "/workflows/flow/plan", {"input": {"n": 1}})
    start = {"workflow": "flow", "input": {"n": 1}, "key": "release-7"}
    run = c("startRun", "alice", "POST", "/runs", start)
    c("listRuns", "alice", "GET", "/runs", params={"limit": 1})
    c("getRun", "alice", "GET", f"/runs/{run['id']}")
    c("runEvents", "alice", "GET", f"/runs/{run['id']}/events", params={"limit": 2})
    c("runCost", "alice", "GET", f"/runs/{run['id']}/cost")
    c("listArtifacts", "alice", "GET", f"/runs/{run['id']}/artifacts")
    c("setBudget", "root", "PUT", f"/runs/{run['id']}/budget", {"tokens": 200000, "usd": 5.0})
    c("pauseRun", "alice", "POST", f"/runs/{run['id']}/pause")
    c("resumeRun", "alice", "POST", f"/runs/{run['id']}/resume")
    waiver = {"expires": "7d", "control": "a second reviewer signs off by hand"}
    c("waiveGate", "root", "POST", f"/runs/{run['id']}/phases/release/waive", waiver)
    c("cancelRun", "alice", "POST", f"/runs/{run['id']}/cancel")
    c("retryRun", "alice", "POST", f"/runs/{run['id']}/retry", {"from_phase": "build"})
    c("listEvents", "root", "GET", "/events/list", params={"topic": "task", "limit": 1})
    c("auditStatus", "audrey", "GET", "/audit/status")
    c("auditVerify", "audrey", "POST", "/audit/verify", {"chain_only": False})
    c("auditCheckpoint", "audrey", "POST", "/audit/checkpoint")
    key = c("createKey", "root", "POST", "/keys", {"agent": "bob", "expires": "30d"})
    c("listKeys", "root", "GET", "/keys", params={"agent": "bob"})
    c("revokeKey", "root", "DELETE", f"/keys/{key['info']['id']}")
    found = c.found
    # An artifact's bytes are not JSON: the document shows a fixed text for them. A
    # run here stores no artifact without a worker: one as a task's ctx.artifact makes.
    found["getArtifact"] = {}
    found["listArtifacts"] = {
        "response": {"data": [ARTIFACT], "next_cursor": None, "has_more": False}
    }
    for probe in ("healthz", "readyz"):
        found[probe] = {"response": api.client.get(f"/{probe}").json()}
    # The one key text shown: not a working one, even for a throwaway database.
    created = found["createKey"]["response"]
    created["key"] = f"coord_{created['info']['id']}_" + "EXAMPLE" * 6 + "x"
    # What a call here cannot show without a worker: an answer like getRun's.
    for gate, body in (("approvePhase", None), ("rejectPhase", {"reason": "tests fail on arm64"})):
        found[gate] = {
            "response": found["getRun"]["response"],
            **({"request": body} if body else {}),
        }
    return found


def main() -> None:
    """Write the examples file."""
    with tempfile.TemporaryDirectory() as folder, running_api(f"sqlite:///{folder}/x.db") as api:
        found = capture(api)
    OUT.write_text(json.dumps(found, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{len(found)} operations -> {OUT}")


if __name__ == "__main__":
    main()
