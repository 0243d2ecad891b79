"""The CLI against a server (``--api-url`` / ``COORD_API_URL`` and ``COORD_API_KEY``),
on SQLite and PostgreSQL: ``coord server`` runs as a process where the database is,
and the remote commands run in another directory with no database at all. They
print what the same commands print locally; a bad or missing key, another agent's
name, and a command with no remote form exit 1 saying why."""

from __future__ import annotations

import json
import queue
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.acceptance.harness import Result, Workspace, is_task_id, stop
from tests.acceptance.server_process import keyed_agent, serving


@dataclass
class Remote:
    """A server over ``db`` (a prepared workspace), and a directory elsewhere whose
    commands go to it."""

    db: Workspace
    here: Workspace
    url: str
    keys: dict[str, str]

    def env(self, agent: str) -> dict[str, str]:
        """What a remote command of ``agent`` runs with."""
        return {"COORD_API_URL": self.url, "COORD_API_KEY": self.keys[agent]}

    def run(self, agent: str, *args: str) -> Result:
        """A remote command as ``agent``."""
        return self.here.run(*args, env=self.env(agent))

    def ok(self, agent: str, *args: str) -> Result:
        """A remote command as ``agent`` that must succeed."""
        return self.here.ok(*args, env=self.env(agent))

    def data(self, agent: str, *args: str) -> Any:
        """A remote command as ``agent`` with ``-o json``, parsed."""
        return self.here.data(*args, env=self.env(agent))


@pytest.fixture
def remote(prepared: Workspace, tmp_path: Path) -> Iterator[Remote]:
    """Agents with keys (alice and bob are agents, lead a human, root an admin), the
    test app's tasks and workflow registered, and the server running."""
    ws = prepared
    keys = {
        "alice": keyed_agent(ws, "alice", "agent"),
        "bob": keyed_agent(ws, "bob", "agent"),
        "root": keyed_agent(ws, "root", "admin"),
    }
    ws.ok("agent", "add", "lead", "--human", "--role", "human")
    keys["lead"] = ws.data("key", "create", "--agent", "lead")["key"]
    with serving(ws) as url:
        yield Remote(ws, Workspace(tmp_path / "elsewhere", "sqlite"), url, keys)
    assert not (tmp_path / "elsewhere" / ".coord").exists()  # nothing went local


def test_messages_go_through_the_server_and_print_what_local_commands_print(
    remote: Remote,
) -> None:
    sent = remote.data("alice", "send", "alice", "bob", "-s", "hello", "--json", '{"n": 1}')
    assert sent.keys() == {"id", "created", "thread_id", "recipients"}
    assert sent["created"] is True and sent["recipients"] == [{"agent": "bob", "seq": 1}]
    text = remote.ok("alice", "send", "alice", "bob", "-s", "again", "--key", "k1").stdout
    assert is_task_id(text.strip())
    replay = remote.data("alice", "send", "alice", "bob", "-s", "again", "--key", "k1")
    assert (replay["id"], replay["created"]) == (text.strip(), False)

    listed = remote.data("bob", "inbox", "bob")
    assert listed == remote.db.data("inbox", "bob")  # the very same JSON
    assert [m["subject"] for m in listed] == ["hello", "again"]
    assert "hello" in remote.ok("bob", "inbox", "bob").stdout
    unread = remote.data("bob", "inbox", "bob", "--unread", "--from", "alice")
    assert len(unread) == 2

    read = remote.data("bob", "read", "bob", sent["id"])
    assert (read["state"], read["body"]) == ("read", {"n": 1})
    assert read == remote.db.data("read", "bob", sent["id"])
    acked = remote.data("bob", "ack", "bob", sent["id"])
    assert acked == {"count": 1, "ids": [sent["id"]]}
    assert remote.data("alice", "thread", sent["id"]) == remote.db.data("thread", sent["id"])
    assert remote.data("alice", "message", "get", sent["id"])["deliveries"][0]["state"] == "acked"
    topics = [e["topic"] for e in remote.data("alice", "message", "events", sent["id"])]
    assert topics[:2] == ["message.sent", "message.delivered"]
    agents = remote.data("alice", "agent", "list")
    assert [a["name"] for a in agents] == [a["name"] for a in remote.db.data("agent", "list")]
    assert remote.data("alice", "subscribe", "alice", "news")["changed"] is True
    assert remote.data("alice", "agent", "get", "alice")["topics"] == ["news"]


def test_tasks_and_runs_go_through_the_server(remote: Remote) -> None:
    task_id = remote.ok("alice", "task", "enqueue", "ok", "--payload", '{"n": 2}').stdout.strip()
    assert is_task_id(task_id)
    again = remote.data("alice", "task", "enqueue", "ok", "--payload", '{"n": 3}', "--key", "t")
    assert remote.data("alice", "task", "enqueue", "ok", "--payload", '{"n": 3}', "--key", "t") == {
        "id": again["id"],
        "created": False,
    }
    shown = remote.data("alice", "task", "get", task_id)
    assert shown == remote.db.task(task_id)  # {"task": ..., "events": [...]}, as locally
    assert shown["task"]["payload"] == {"n": 2}
    assert {t["id"] for t in remote.data("alice", "task", "list")} == {task_id, again["id"]}
    queues = remote.data("alice", "queue", "list")
    assert [{**q, "oldest_pending_age_s": None} for q in queues] == [
        {**q, "oldest_pending_age_s": None} for q in remote.db.data("queue", "list")
    ]
    assert remote.data("alice", "dlq", "list") == []

    started = remote.data(
        "alice", "run", "start", "release", "--input", '{"topic": "coord"}', "--key", "r1"
    )
    assert started["created"] is True
    assert remote.data(
        "alice", "run", "start", "release", "--input", '{"topic": "coord"}', "--key", "r1"
    ) == {"id": started["id"], "created": False}
    run = remote.data("alice", "run", "get", started["id"])
    assert run == remote.db.data("run", "get", started["id"])
    assert (run["workflow"], run["input"]) == ("release", {"topic": "coord"})
    assert "draft" in remote.ok("alice", "run", "plan", "release").stdout
    assert [r["id"] for r in remote.data("alice", "run", "list")] == [started["id"]]
    assert remote.data("alice", "run", "pause", started["id"])["state"] == "paused"
    assert remote.data("alice", "run", "resume", started["id"])["state"] == "running"
    budget = remote.data("root", "budget", "set", started["id"], "tokens=9000")
    assert budget["budget"]["tokens"] == 9000
    refused = remote.run("lead", "gate", "approve", started["id"], "publish", "--by", "someone")
    assert refused.returncode == 1 and "you act as 'lead'" in refused.stderr


def test_a_bad_or_missing_key_and_another_agents_name_exit_1_naming_the_problem(
    remote: Remote,
) -> None:
    here = remote.here
    bad = here.fails(
        "inbox", "bob", "-o", "json", env={"COORD_API_URL": remote.url, "COORD_API_KEY": "nope"}
    )
    assert bad.error_json()["code"] == "unauthenticated"
    unknown = here.fails(
        "task", "list", env={"COORD_API_URL": remote.url, "COORD_API_KEY": "coord_ab_cd"}
    )
    assert "key" in unknown.stderr.lower()
    missing = here.fails("--api-url", remote.url, "inbox", "bob")
    assert "COORD_API_KEY" in missing.stderr
    spoof = remote.run("alice", "send", "bob", "alice", "-s", "as bob")
    assert spoof.returncode == 1 and "sender" in spoof.stderr and spoof.stdout == ""
    other = remote.run("alice", "inbox", "bob", "-o", "json")
    assert other.returncode == 1 and other.error_json()["code"] == "forbidden"
    local_only = remote.run("alice", "--api-url", remote.url, "db", "current")
    assert local_only.returncode == 1 and "no remote form" in local_only.stderr
    worker = remote.run("alice", "--api-url", remote.url, "worker", "--app", "tasks:app")
    assert worker.returncode == 1 and "no remote form" in worker.stderr


def test_inbox_follow_streams_through_the_server(remote: Remote) -> None:
    remote.ok("alice", "send", "alice", "bob", "-s", "already there")
    # popen runs with a workspace's environment: one with the server and bob's key
    here = Workspace(remote.here.cwd, "sqlite", env={**remote.here.env, **remote.env("bob")})
    proc = here.popen("inbox", "bob", "--follow", "-o", "json")
    assert proc.stdout is not None and proc.stderr is not None
    out, err = _lines(proc.stdout), _lines(proc.stderr)
    try:
        assert json.loads(out.get(timeout=20))["subject"] == "already there"
        while "following bob's mailbox" not in err.get(timeout=20):
            pass
        remote.ok("alice", "send", "alice", "bob", "-s", "live", "--body", "hi")
        streamed = json.loads(out.get(timeout=20))
        assert (streamed["subject"], streamed["body"], streamed["seq"]) == ("live", "hi", 2)
        result = stop(proc, [signal.SIGTERM], timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert result.returncode == 0, result.describe()


def _lines(stream: Any) -> queue.Queue[str]:
    """The lines of a process's pipe, read by a thread."""
    found: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            found.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return found
