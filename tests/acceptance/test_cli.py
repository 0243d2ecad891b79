"""The ``coord`` command line, driven as a user drives it: a real process in a working
directory of its own, on SQLite (the embedded default) and on PostgreSQL.

The contract checked here: every command has ``--help`` and ``-o json``; exit codes
are 0 (ok), 1 (the operation failed, the message says why) and 2 (bad usage); data
goes to stdout, errors and logs to stderr.
"""

from __future__ import annotations

import base64
import signal
from dataclasses import dataclass
from typing import Any

import pytest

from tests.acceptance.harness import (
    ALL_COMMANDS,
    LEAF_COMMANDS,
    Workspace,
    is_task_id,
    open_workspace,
)

NO_SUCH_TASK = "01a20000-0000-7000-8000-000000000000"


def _name(path: tuple[str, ...]) -> str:
    return " ".join(path) or "coord"


# -- every command: --help, -o json ------------------------------------------------------
@pytest.mark.parametrize("path", list(ALL_COMMANDS), ids=_name)
def test_every_command_has_help(bare: Workspace, path: tuple[str, ...]) -> None:
    command = ALL_COMMANDS[path]
    assert (command.help or "").strip(), f"`{_name(path)}` has no help text"
    result = bare.ok(*path, "--help")
    assert "Usage:" in result.stdout
    assert f"coord {' '.join(path)}".strip() in result.stdout
    assert result.stderr == ""
    assert not (bare.cwd / ".coord").exists()


@pytest.mark.parametrize("path", list(LEAF_COMMANDS), ids=_name)
def test_every_command_has_an_output_option(path: tuple[str, ...]) -> None:
    options = {opt for p in LEAF_COMMANDS[path].params for opt in getattr(p, "opts", ())}
    assert {"--output", "-o"} <= options, f"`{_name(path)}` has no -o/--output"


def test_every_command_prints_valid_json(workspace: Workspace) -> None:
    """Run each command once with ``-o json``, in the order a user would."""
    ws, seen = workspace, set()

    def data(*args: str, stdin: str | None = None) -> Any:
        path = next(p for p in sorted(LEAF_COMMANDS, key=len, reverse=True) if args[: len(p)] == p)
        seen.add(path)
        result = ws.ok(*args, "-o", "json", stdin=stdin)
        return result.json()

    assert data("db", "upgrade")["current"] >= 1
    assert data("db", "current")["up_to_date"] is True
    assert data("config", "show")["database_url"]
    assert data("config", "validate")["settings"] == "ok"
    ws.write_tasks_module()
    assert data("worker", "--app", "tasks:app", "--burst")["claimed"] == 0
    done = data("task", "enqueue", "ok", "--payload", '{"n": 1}')
    assert is_task_id(done["id"]) and done["created"] is True
    later = data("task", "enqueue", "ok", "--delay", "1h")["id"]
    data("task", "enqueue", "doomed")
    assert data("worker", "--app", "tasks:app", "--burst")["dead"] == 1
    assert {t["name"] for t in data("task", "list")} == {"ok", "doomed"}
    assert data("task", "get", done["id"])["task"]["result"] == {"n": 1, "double": 2}
    assert data("task", "cancel", later)["state"] == "cancelled"
    assert data("task", "retry", later)["state"] == "pending"
    assert data("queue", "list")[0]["queue"] == "default"
    assert data("dlq", "list")[0]["count"] == 1
    assert data("dlq", "retry", "--all")["count"] == 1
    assert data("agent", "add", "coder")["name"] == "coder"
    assert data("agent", "add", "lead", "--human")["human"] is True
    assert data("subscribe", "lead", "news")["changed"] is True
    sent = data("send", "coder", "topic:news", "--subject", "hello")
    assert sent["recipients"] == [{"agent": "lead", "seq": 1}]
    assert [m["id"] for m in data("inbox", "lead")] == [sent["id"]]
    assert data("read", "lead", sent["id"])["state"] == "read"
    assert data("ack", "lead", sent["id"])["ids"] == [sent["id"]]
    assert data("message", "get", sent["id"])["deliveries"][0]["state"] == "acked"
    assert data("message", "events", sent["id"])[0]["topic"] == "message.sent"
    assert [m["id"] for m in data("thread", sent["id"])] == [sent["id"]]
    assert data("unsubscribe", "lead", "news")["changed"] is True
    assert [a["name"] for a in data("agent", "list")] == ["coder", "lead"]
    assert data("agent", "get", "lead")["human"] is True
    assert data("agent", "remove", "coder")["removed"] is True
    assert data("workflow", "validate", "release.yaml")["phases"] == ["draft", "publish"]
    assert data("workflow", "list")[0]["name"] == "release"
    assert data("workflow", "show", "release")["definition"]["name"] == "release"
    assert data("run", "plan", "release", "--app", "tasks:app")["groups"] == [
        ["draft"],
        ["publish"],
    ]
    run = data("run", "start", "release", "--input", '{"topic": "json"}')["id"]
    assert data("run", "pause", run)["state"] == "paused"
    assert data("run", "resume", run)["state"] == "running"
    assert data("budget", "set", run, "tokens=9000")["budget"]["tokens"] == 9000
    data("worker", "--app", "tasks:app", "--burst")
    assert data("run", "get", run)["phases"][1]["state"] == "awaiting_approval"
    assert (
        data("gate", "waive", run, "draft", "--owner", "o", "--expires", "1d", "--control", "c")[
            "phases"
        ][0]["waiver"]["owner"]
        == "o"
    )
    assert data("gate", "approve", run, "publish", "--by", "lead")["state"] == "succeeded"
    assert data("run", "list")[0]["id"] == run
    assert data("run", "events", run)[0]["topic"] == "run.started"
    assert data("run", "cost", run)["total"]["usage"]["tokens"] == 1000
    assert "run.json" in data("run", "dossier", run, "--out", "dossier")["files"]
    (artifact, *_) = data("run", "artifacts", run)
    assert artifact["name"] == "notes.md"
    content = data("run", "artifact", run, artifact["digest"])
    assert (
        base64.b64decode(content["base64"])
        == (ws.cwd / "dossier/artifacts/draft/notes.md").read_bytes()
    )
    other = data("run", "start", "release", "--input", '{"topic": "x"}', "--key", "k")["id"]
    data("worker", "--app", "tasks:app", "--burst")
    assert data("gate", "reject", other, "publish", "--by", "lead", "--reason", "no")["state"] in (
        "compensating",
        "failed",
    )
    third = data("run", "start", "release", "--input", '{"topic": "y"}')["id"]
    assert data("run", "cancel", third)["state"] == "cancelled"
    assert data("run", "retry", third)["state"] == "running"
    key = data("key", "create", "--agent", "lead")
    assert key["key"].startswith("coord_") and data("key", "list")[0]["id"] == key["id"]
    assert data("key", "revoke", key["id"])["state"] == "revoked"
    ws.env["COORD_SECRET_KEYS"] = data("secret", "keygen")["key"]
    assert data("secret", "set", "token", stdin="s3cret")["name"] == "token"
    assert data("secret", "list")[0]["name"] == "token"
    assert data("secret", "rotate")["reencrypted"] == 0
    assert data("secret", "delete", "token")["deleted"] is True
    assert data("audit", "seal")["unsealed"] == 0
    assert data("audit", "status")["head_seq"] > 0
    assert data("audit", "verify")["ok"] is True
    ws.env["COORD_LEDGER_SIGNING_KEY_FILE"] = str(ws.cwd / "ledger.pem")
    assert "PUBLIC KEY" in data("audit", "keygen", "--out", "ledger.pem")["public_key"]
    assert data("audit", "checkpoint", "--out", "head.json")["checkpoint"]["seq"] > 0
    data("key", "create", "--agent", "lead")  # the server needs a usable key
    assert data("server", "--check")["ok"] is True
    assert seen == set(LEAF_COMMANDS), f"not run with -o json: {set(LEAF_COMMANDS) - seen}"


# -- exit codes and streams --------------------------------------------------------------
@pytest.mark.parametrize(
    "args",
    [
        [],
        ["nosuch"],
        ["task"],
        ["task", "get"],
        ["task", "list", "--state", "bogus"],
        ["task", "list", "-o", "yaml"],
        ["task", "enqueue", "ok", "--payload", "{}", "--payload-file", "x.jsonl"],
        ["task", "enqueue", "ok", "--key", "k", "--payload-file", "x.jsonl"],
        ["worker"],
        ["worker", "--app", "tasks:app", "--concurrency", "0"],
        ["dlq", "retry"],
        ["dlq", "retry", "--all", NO_SUCH_TASK],
    ],
    ids=lambda a: " ".join(a) or "no-args",
)
def test_bad_usage_exits_2(bare: Workspace, args: list[str]) -> None:
    result = bare.run(*args)
    assert result.returncode == 2, result.describe()
    assert "Usage:" in result.stdout + result.stderr
    assert not (bare.cwd / ".coord").exists()


def test_version(bare: Workspace) -> None:
    assert bare.ok("--version").stdout.startswith("coord ")


@pytest.mark.parametrize(
    "args",
    [
        ["task", "list"],
        ["task", "get", NO_SUCH_TASK],
        ["task", "enqueue", "ok"],
        ["task", "cancel", NO_SUCH_TASK],
        ["queue", "list"],
        ["dlq", "list"],
        ["dlq", "retry", "--all"],
        ["db", "current"],
        ["config", "validate"],
    ],
    ids=" ".join,
)
def test_missing_sqlite_database_is_an_error_naming_db_upgrade(
    bare: Workspace, args: list[str]
) -> None:
    result = bare.fails(*args)
    assert "coord db upgrade" in result.stderr
    assert "error:" in result.stderr
    assert not (bare.cwd / ".coord").exists(), "a failed command created the database"


# -- db ----------------------------------------------------------------------------------
def test_db_upgrade_is_idempotent(workspace: Workspace) -> None:
    first = workspace.data("db", "upgrade")
    assert first["current"] == first["target"] and first["up_to_date"]
    again = workspace.ok("db", "upgrade")
    assert "nothing to do" in again.stdout
    assert workspace.data("db", "upgrade")["applied"] == []
    current = workspace.ok("db", "current")
    assert "up to date" in current.stdout
    assert workspace.backend in current.stdout


def test_first_db_upgrade_reports_the_migrations_it_applied(workspace: Workspace) -> None:
    result = workspace.ok("db", "upgrade")
    assert "applied migrations" in result.stdout, result.describe()
    assert "nothing to do" not in result.stdout


def test_db_current_on_postgres_without_schema_says_to_upgrade(
    postgres_workspace: Workspace,
) -> None:
    ws = postgres_workspace
    result = ws.ok("db", "current")
    assert "version 0" in result.stdout and "coord db upgrade" in result.stdout
    assert ws.data("db", "current")["up_to_date"] is False
    listed = ws.fails("task", "list")
    assert "has no coord schema" in listed.stderr and "coord db upgrade" in listed.stderr


# -- config ------------------------------------------------------------------------------
def test_config_show_masks_the_password_of_a_postgres_url(bare: Workspace) -> None:
    env = {"COORD_DATABASE_URL": "postgresql://agent:s3cret-pw@db.example:5432/coord"}
    text = bare.ok("config", "show", env=env)
    assert "postgresql://agent:***@db.example:5432/coord" in text.stdout
    assert "COORD_LEASE_DURATION" in text.stdout
    shown = bare.data("config", "show", env=env)
    assert shown["database_url"] == "postgresql://agent:***@db.example:5432/coord"
    assert "s3cret" not in text.stdout + text.stderr + str(shown)


def test_config_validate_names_a_bad_setting(bare: Workspace) -> None:
    result = bare.fails("config", "validate", env={"COORD_LEASE_DURATION": "abc"})
    assert "COORD_LEASE_DURATION" in result.stderr and "abc" in result.stderr


def test_config_validate_checks_database_and_schema(workspace: Workspace) -> None:
    workspace.ok("db", "upgrade")
    checks = workspace.data("config", "validate")
    assert checks["settings"] == "ok"
    assert workspace.backend in checks["database"]
    assert "current" in checks["schema"]


# -- enqueueing --------------------------------------------------------------------------
def test_enqueue_prints_the_id_and_a_key_makes_it_idempotent(prepared: Workspace) -> None:
    ws = prepared
    plain = ws.ok("task", "enqueue", "ok", "--payload", '{"n": 1}')
    assert is_task_id(plain.stdout.strip()) and plain.stdout.count("\n") == 1
    first = ws.enqueue("ok", '{"n": 2}', "--key", "order-42")
    assert ws.enqueue("ok", '{"n": 2}', "--key", "order-42") == first
    assert ws.data("task", "enqueue", "ok", "-p", '{"n": 2}', "--key", "order-42") == {
        "id": first,
        "created": False,
    }
    conflict = ws.fails("task", "enqueue", "ok", "--payload", '{"n": 3}', "--key", "order-42")
    assert "different payload" in conflict.stderr and first in conflict.stderr
    as_json = ws.run("task", "enqueue", "ok", "-p", '{"n": 3}', "--key", "order-42", "-o", "json")
    assert as_json.returncode == 1 and as_json.stdout == ""
    assert as_json.error_json()["code"] == "idempotency_conflict"
    assert len(ws.tasks("--name", "ok")) == 2


def test_enqueue_from_a_jsonl_file_or_stdin_prints_the_count(prepared: Workspace) -> None:
    ws = prepared
    (ws.cwd / "batch.jsonl").write_text('{"n": 1}\n{"n": 2}\n\n{"n": 3}\n')
    assert ws.ok("task", "enqueue", "ok", "--payload-file", "batch.jsonl").stdout == "3\n"
    piped = ws.ok("task", "enqueue", "ok", "-f", "-", stdin='{"n": 4}\n{"n": 5}\n')
    assert piped.stdout == "2\n"
    as_json = ws.data("task", "enqueue", "ok", "-f", "-", stdin='{"n": 6}\n')
    assert as_json["count"] == 1 and all(is_task_id(i) for i in as_json["ids"])
    payloads = sorted(t["payload"]["n"] for t in ws.tasks("--name", "ok"))
    assert payloads == [1, 2, 3, 4, 5, 6]


def test_a_bad_line_in_a_payload_file_enqueues_nothing(prepared: Workspace) -> None:
    ws = prepared
    (ws.cwd / "bad.jsonl").write_text('{"n": 1}\n{"n": 2\n{"n": 3}\n')
    result = ws.fails("task", "enqueue", "ok", "--payload-file", "bad.jsonl")
    assert "bad.jsonl line 2" in result.stderr
    (ws.cwd / "list.jsonl").write_text('{"n": 1}\n[2]\n')
    assert "line 2" in ws.fails("task", "enqueue", "ok", "-f", "list.jsonl").stderr
    assert "stdin line 1" in ws.fails("task", "enqueue", "ok", "-f", "-", stdin="nope\n").stderr
    assert ws.tasks() == []


def test_enqueue_of_an_unknown_task_name_fails(prepared: Workspace) -> None:
    result = prepared.fails("task", "enqueue", "no_such_task", "--payload", "{}")
    assert "no_such_task" in result.stderr and "not registered" in result.stderr
    assert prepared.run("task", "enqueue", "ok", "-p", "[1]").returncode == 1
    assert prepared.run("task", "enqueue", "ok", "-p", "{oops").returncode == 1
    assert prepared.tasks() == []


# -- a finished batch: worker, list, get, queues, dead letters ----------------------------
@dataclass
class Batch:
    """A batch run to completion by one burst worker, shared by read-only tests."""

    ws: Workspace
    stats: dict[str, int]
    flaky: str
    delayed: str
    succeeded: str


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def batch(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    with open_workspace(request, tmp_path_factory.mktemp("batch"), request.param) as ws:
        ws.prepare()
        (ws.cwd / "ok.jsonl").write_text("".join(f'{{"n": {n}}}\n' for n in (1, 2, 3)))
        ws.ok("task", "enqueue", "ok", "--payload-file", "ok.jsonl")
        flaky = ws.enqueue("flaky", '{"n": 7}')
        for why in ("bad input", "bad input", "other"):
            ws.enqueue("doomed", f'{{"why": "{why}"}}')
        ws.enqueue("report", '{"title": "weekly"}')
        ws.enqueue("report", '{"title": "monthly"}')
        delayed = ws.enqueue("ok", '{"n": 99}', "--delay", "1h")
        stats = ws.burst()
        succeeded = ws.tasks("--name", "ok", "--state", "succeeded")[0]["id"]
        yield Batch(ws, stats, flaky, delayed, succeeded)


def test_burst_worker_runs_every_due_task_then_exits(batch: Batch) -> None:
    s = batch.stats
    assert (s["succeeded"], s["retried"], s["dead"], s["claimed"]) == (6, 1, 3, 10)
    states = {t["id"]: t["state"] for t in batch.ws.tasks()}
    assert states[batch.delayed] == "pending"
    assert sorted(states.values()).count("succeeded") == 6


def test_task_list_filters(batch: Batch) -> None:
    ws = batch.ws
    dead = ws.tasks("--state", "dead")
    assert len(dead) == 3 and {t["name"] for t in dead} == {"doomed"}
    assert len(ws.tasks("--state", "succeeded")) == 6
    assert [t["id"] for t in ws.tasks("--state", "pending")] == [batch.delayed]
    reports = ws.tasks("--queue", "reports")
    assert sorted(t["result"] for t in reports) == ["MONTHLY", "WEEKLY"]
    [flaky] = ws.tasks("--name", "flaky")
    assert (flaky["attempt"], flaky["state"]) == (2, "succeeded")
    assert ws.tasks("--name", "doomed", "--queue", "reports") == []
    everything = ws.tasks()
    assert [t["id"] for t in everything] == sorted((t["id"] for t in everything), reverse=True)
    newest = ws.tasks("--limit", "2")
    assert [t["id"] for t in newest] == [t["id"] for t in everything[:2]]
    text = ws.ok("task", "list", "--state", "dead").stdout.splitlines()
    assert text[0].split()[:4] == ["id", "name", "queue", "state"]
    assert len(text) == 4 and all("FatalError" in line for line in text[1:])
    empty = ws.ok("task", "list", "--name", "nothing-like-this")
    assert empty.stdout == "" and "no tasks match" in empty.stderr


def test_task_get_shows_the_task_and_its_events(batch: Batch) -> None:
    ws = batch.ws
    found = ws.task(batch.flaky)
    assert found["task"]["result"] == {"n": 7, "attempt": 2}
    assert found["task"]["error"]["message"] == "the first attempt always fails"
    topics = [e["topic"] for e in found["events"]]
    assert topics == [
        "task.enqueued",
        "task.started",
        "task.retrying",
        "task.started",
        "task.succeeded",
    ]
    text = ws.ok("task", "get", batch.flaky).stdout
    assert batch.flaky in text and "events:" in text
    for topic in topics:
        assert topic in text
    missing = ws.fails("task", "get", NO_SUCH_TASK)
    assert "no task with id" in missing.stderr
    as_json = ws.run("task", "get", NO_SUCH_TASK, "-o", "json")
    assert as_json.returncode == 1 and as_json.stdout == ""
    assert as_json.error_json()["code"] == "not_found"


def test_queue_list_counts_tasks_per_state(batch: Batch) -> None:
    queues = {q["queue"]: q for q in batch.ws.data("queue", "list")}
    assert set(queues) == {"default", "reports"}
    default = queues["default"]
    counts = {k: default[k] for k in ("pending", "running", "succeeded", "failed", "dead")}
    assert counts == {"pending": 1, "running": 0, "succeeded": 4, "failed": 0, "dead": 3}
    assert queues["reports"]["succeeded"] == 2
    text = batch.ws.ok("queue", "list").stdout
    assert text.split()[:3] == ["queue", "pending", "running"]
    assert "reports" in text


def test_dlq_list_groups_dead_tasks_by_error(batch: Batch) -> None:
    groups = batch.ws.data("dlq", "list")
    summary = sorted((g["error_type"], g["error_message"], g["count"]) for g in groups)
    assert summary == [("FatalError", "bad input", 2), ("FatalError", "other", 1)]
    dead_ids = {t["id"] for t in batch.ws.tasks("--state", "dead")}
    assert all(g["sample_task_id"] in dead_ids and g["task_names"] == ["doomed"] for g in groups)
    text = batch.ws.ok("dlq", "list").stdout
    assert "FatalError: bad input" in text and "FatalError: other" in text


def test_cancel_of_a_finished_task_fails_and_changes_nothing(batch: Batch) -> None:
    result = batch.ws.fails("task", "cancel", batch.succeeded)
    assert "already succeeded" in result.stderr
    assert batch.ws.task(batch.succeeded)["task"]["state"] == "succeeded"
    assert batch.ws.fails("task", "cancel", NO_SUCH_TASK).stderr


# -- changing tasks: cancel, dead-letter replay -----------------------------------------
def test_cancel_a_pending_task(prepared: Workspace) -> None:
    ws = prepared
    task_id = ws.enqueue("ok", '{"n": 1}', "--delay", "1h")
    assert ws.ok("task", "cancel", task_id).stdout.strip() == f"cancelled {task_id}"
    found = ws.task(task_id)
    assert found["task"]["state"] == "cancelled"
    assert found["events"][-1]["topic"] == "task.cancelled"
    assert found["events"][-1]["actor"].startswith("cli")
    assert ws.burst()["claimed"] == 0


def test_dlq_retry_replays_dead_tasks_which_run_again(prepared: Workspace) -> None:
    ws = prepared
    ids = [ws.enqueue("doomed", f'{{"why": "bug {n}"}}') for n in range(3)]
    assert ws.burst()["dead"] == 3
    not_dead = ws.enqueue("ok", "{}", "--delay", "1h")
    refused = ws.fails("dlq", "retry", ids[0], not_dead)
    assert "not dead" in refused.stderr
    assert len(ws.tasks("--state", "dead")) == 3  # all or nothing

    (ws.cwd / "fixed").write_text("deployed a fix")
    assert ws.ok("dlq", "retry", ids[0]).stdout.strip() == "retrying 1 task(s)"
    assert ws.burst()["succeeded"] == 1
    replayed = ws.task(ids[0])
    assert replayed["task"]["state"] == "succeeded" and replayed["task"]["result"] == "fixed"
    topics = [e["topic"] for e in replayed["events"]]
    assert topics[-4:] == ["task.dead", "task.replayed", "task.started", "task.succeeded"]
    assert ws.fails("dlq", "retry", ids[0]).stderr  # succeeded now: not dead

    retried = ws.data("dlq", "retry", "--all")
    assert retried["count"] == 2 and set(retried["ids"]) == set(ids[1:])
    assert ws.burst()["succeeded"] == 2
    assert ws.data("dlq", "list") == []
    assert ws.ok("dlq", "retry", "--all").stdout.strip() == "retrying 0 task(s)"


# -- a long-running worker and signals ---------------------------------------------------
def test_worker_stops_gracefully_on_sigterm_after_finishing_its_task(
    prepared: Workspace,
) -> None:
    ws = prepared
    task_id = ws.enqueue("slow", '{"seconds": 1.5, "tag": "graceful"}')
    result = ws.signal_worker("graceful.started", [signal.SIGTERM], "-o", "json", timeout=30)
    assert result.returncode == 0, result.describe()
    assert (ws.cwd / "graceful.finished").exists()
    stats = result.json()
    assert (stats["succeeded"], stats["released"]) == (1, 0)
    assert ws.task(task_id)["task"]["state"] == "succeeded"


def test_a_second_signal_releases_running_tasks_at_once(prepared: Workspace) -> None:
    ws = prepared
    task_id = ws.enqueue("slow", '{"seconds": 60, "tag": "endless"}')
    result = ws.signal_worker(
        "endless.started", [signal.SIGTERM, signal.SIGINT], "-o", "json", timeout=15
    )
    assert result.returncode == 0, result.describe()
    assert result.json()["released"] == 1
    found = ws.task(task_id)
    assert found["task"]["state"] == "pending" and found["task"]["owner"] is None
    assert found["events"][-1]["topic"] == "task.released"


# -- problems found and fixed (each was a strict xfail naming its cause) -----------------
def test_cancel_of_a_dead_task_says_it_is_dead(prepared: Workspace) -> None:
    task_id = prepared.enqueue("doomed")
    prepared.burst()
    result = prepared.fails("task", "cancel", task_id)
    assert "already dead" in result.stderr
    assert "had already dead" not in result.stderr


def test_cancel_twice_fails_the_second_time(prepared: Workspace) -> None:
    task_id = prepared.enqueue("ok", "{}", "--delay", "1h")
    prepared.ok("task", "cancel", task_id)
    result = prepared.fails("task", "cancel", task_id)
    assert "already cancelled" in result.stderr


def test_a_bad_setting_is_a_json_error_under_output_json(bare: Workspace) -> None:
    result = bare.fails("config", "validate", "-o", "json", env={"COORD_LEASE_DURATION": "abc"})
    error = result.error_json()
    assert error["code"] == "config_invalid" and "COORD_LEASE_DURATION" in error["message"]


def test_config_show_masks_a_password_given_as_a_query_parameter(bare: Workspace) -> None:
    url = "postgresql://agent@db.example:5432/coord?sslmode=require&password=s3cret-pw"
    result = bare.ok("config", "show", env={"COORD_DATABASE_URL": url})
    assert "s3cret" not in result.stdout


def test_a_rejected_database_url_does_not_leak_its_password(bare: Workspace) -> None:
    result = bare.fails(
        "config", "show", env={"COORD_DATABASE_URL": "mysql://root:s3cret-pw@db.example/x"}
    )
    assert "COORD_DATABASE_URL" in result.stderr
    assert "s3cret" not in result.stderr


def test_a_bad_database_url_option_is_named_as_typed(bare: Workspace) -> None:
    result = bare.fails("--database-url", "mysql://db.example/x", "task", "list")
    assert "--database-url" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["task", "enqueue", "ok", "--priority", "urgent"],
        ["task", "enqueue", "ok", "--delay", "soon"],
        ["task", "list", "--limit", "0"],
    ],
    ids=" ".join,
)
def test_bad_option_values_are_usage_errors(prepared: Workspace, args: list[str]) -> None:
    prepared.fails(*args, code=2)


def test_config_validate_on_an_empty_postgres_database_says_there_is_no_schema(
    postgres_workspace: Workspace,
) -> None:
    result = postgres_workspace.fails("config", "validate")
    assert "has no coord schema" in result.stderr


def test_an_unreachable_postgres_fails_fast_naming_the_cause(
    bare: Workspace, postgres_server: str
) -> None:
    url = postgres_server.rpartition("/")[0] + "/coord_no_such_database"
    result = bare.fails("task", "list", env={"COORD_DATABASE_URL": url})
    error_line = next(line for line in result.stderr.splitlines() if line.startswith("error:"))
    assert "coord_no_such_database" in error_line and "does not exist" in error_line


def test_worker_says_it_is_shutting_down_when_signalled(prepared: Workspace) -> None:
    ws = prepared
    ws.enqueue("slow", '{"seconds": 1.0, "tag": "told"}')
    result = ws.signal_worker("told.started", [signal.SIGTERM], timeout=30)
    before_stop = result.stderr.split(" stopped: ")[0].lower()
    assert any(word in before_stop for word in ("signal", "sigterm", "shutting down", "stopping"))
    # what it waits for, how long, and how not to wait
    assert "1 running task" in before_stop and "coord_shutdown_grace" in before_stop
    assert "second sigterm or ctrl-c releases" in before_stop


def test_worker_serves_the_database_given_with_the_global_option(bare: Workspace) -> None:
    """`coord --database-url URL worker --app ...` runs the tasks of URL, whatever
    database the App's own settings name."""
    other = ["--database-url", f"sqlite:///{bare.cwd / 'other.db'}"]
    bare.write_tasks_module()
    bare.ok(*other, "db", "upgrade")
    bare.ok(*other, "worker", "--app", "tasks:app", "--burst")  # registers the tasks there
    task_id = bare.ok(*other, "task", "enqueue", "ok", "--payload", '{"n": 7}').stdout.strip()
    stats = bare.data(*other, "worker", "--app", "tasks:app", "--burst")
    assert stats["succeeded"] == 1
    found = bare.data(*other, "task", "get", task_id)
    assert found["task"]["state"] == "succeeded"
    assert not bare.sqlite_file.exists(), "the App's default database was not used"
