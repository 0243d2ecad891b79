"""Every CLI failure is one ``error:`` line, never a traceback, and leaves nothing
half-written: a table of hostile values (files that are not UTF-8, missing files,
folders given as files, unwritable and ``/proc`` output paths, huge and negative
numbers, empty strings, unknown ids, bad durations and ``key=value`` options...).

Most cases run in this process through Typer's ``CliRunner`` (the same group and the
same error handling as the ``coord`` script, without a process start each); a few run
as real ``coord`` processes, started together, to hold the entry point and real
stdin to the same rule. Exit codes: 1 for a failed operation, 2 for bad usage.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from coord.cli.main import app as cli_app
from tests.acceptance.harness import COORD, Workspace, open_workspace

NOT_UTF8 = b"name: caf\xe9\nphases: {}\n"  # Latin-1, as an old editor saves it
NO_SUCH_TASK = "01a20000-0000-7000-8000-000000000000"
NO_SUCH_RUN = "01a20000-0000-7000-8000-0000000000ff"
HUGE = "1" + "0" * 30
RUN = "{run}"  # replaced by the id of a real run of the workspace


@dataclass(frozen=True)
class Case:
    """One hostile call: the exit code it must end with and what its error must say."""

    args: tuple[str, ...]
    says: tuple[str, ...]  # each must appear in the error (case-insensitively)
    code: int = 1
    env: dict[str, str] = field(default_factory=dict)
    stdin: bytes | None = None
    absent: tuple[str, ...] = ()  # paths the failure must not leave behind

    @property
    def name(self) -> str:
        return " ".join(self.args)[:80] + (f" {self.env}" if self.env else "")


def case(
    *args: str,
    says: str | tuple[str, ...],
    code: int = 1,
    env: dict[str, str] | None = None,
    stdin: bytes | None = None,
    absent: tuple[str, ...] = (),
) -> Case:
    """A row of the table (``says``: one fragment or several)."""
    fragments = (says,) if isinstance(says, str) else says
    return Case(tuple(args), fragments, code, env or {}, stdin, absent)


SECRET_KEY = "ZmFrZS1rZXktZm9yLXRlc3RzLW9ubHktMzItYnl0ZXM="  # a valid Fernet key

CASES = [
    # -- files read: not UTF-8, missing, a folder, /proc, empty name, bad syntax -----
    case("workflow", "validate", "latin1.yaml", says=("latin1.yaml", "UTF-8")),
    case("workflow", "validate", "missing.yaml", says=("missing.yaml", "no such file")),
    case("workflow", "validate", "adir", says=("adir", "directory")),
    case("workflow", "validate", "/proc/self/mem", says="/proc/self/mem"),
    case("workflow", "validate", "", says="cannot read"),
    case("workflow", "validate", "broken.yaml", says="YAML"),
    case("run", "plan", "latin1.yaml", says=("latin1.yaml", "UTF-8")),
    case("run", "start", "latin1.yaml", says=("latin1.yaml", "UTF-8")),
    case(
        "workflow",
        "validate",
        "release.yaml",
        "--app",
        "broken_mod:app",
        says=("broken_mod", "SyntaxError"),
    ),
    case("worker", "--app", "raising_mod:app", "--burst", says=("raising_mod", "boom")),
    case("worker", "--app", ":", says="MODULE:ATTR"),
    case("task", "enqueue", "ok", "--payload-file", "latin1.jsonl", says=("latin1.jsonl", "UTF-8")),
    case("task", "enqueue", "ok", "--payload-file", "adir", says=("adir", "directory")),
    case("task", "enqueue", "ok", "--payload-file", "missing.jsonl", says="missing.jsonl"),
    case("task", "enqueue", "ok", "-f", "-", stdin=b'{"n": "caf\xe9"}\n', says=("stdin", "UTF-8")),
    case(
        "send",
        "lead",
        "lead",
        "-s",
        "x",
        "--body-file",
        "latin1.yaml",
        says=("latin1.yaml", "UTF-8"),
    ),
    case("send", "lead", "lead", "-s", "x", "--body-file", "adir", says="adir"),
    case(
        "secret",
        "set",
        "token",
        stdin=b"caf\xe9",
        env={"COORD_SECRET_KEYS": SECRET_KEY},
        says=("stdin", "UTF-8"),
    ),
    case(
        "secret",
        "rotate",
        env={"COORD_SECRET_KEYS_FILE": "latin1.yaml"},
        says=("COORD_SECRET_KEYS_FILE", "UTF-8"),
    ),
    case(
        "secret",
        "rotate",
        env={"COORD_SECRET_KEYS_FILE": "adir"},
        says=("COORD_SECRET_KEYS_FILE", "directory"),
    ),
    case(
        "key",
        "create",
        "--agent",
        "lead",
        env={"COORD_RBAC_FILE": "latin1.yaml"},
        says=("COORD_RBAC_FILE", "UTF-8"),
    ),
    case(
        "key",
        "create",
        "--agent",
        "lead",
        env={"COORD_RBAC_FILE": "adir"},
        says=("COORD_RBAC_FILE", "directory"),
    ),
    case("audit", "verify", "--checkpoint", "latin1.yaml", says=("--checkpoint", "latin1.yaml")),
    case("audit", "verify", "--checkpoint", "adir", says=("--checkpoint", "directory")),
    case("audit", "verify", "--checkpoint", "/proc/self/mem", says="/proc/self/mem"),
    case(
        "audit",
        "checkpoint",
        "--out",
        "head.json",
        env={"COORD_LEDGER_SIGNING_KEY_FILE": "adir"},
        says="COORD_LEDGER_SIGNING_KEY_FILE",
        absent=("head.json",),
    ),
    case("--database-url", "sqlite:///adir", "task", "list", says="adir"),
    case("--database-url", "sqlite:///latin1.yaml", "task", "list", says="not a database"),
    case("--database-url", "", "task", "list", says="--database-url"),
    # -- files written: /proc, under a file, a folder, an empty name; all or nothing --
    case("run", "dossier", RUN, "--out", "/proc/dossier", says="/proc/dossier"),
    case(
        "run",
        "dossier",
        RUN,
        "--out",
        "afile/sub",
        says=("afile/sub", "not a folder"),
        absent=("afile/sub",),
    ),
    case("run", "dossier", RUN, "--out", "afile", says=("afile", "exists")),
    case("run", "dossier", RUN, "--out", "/proc/new/deeper", says="/proc/new/deeper"),
    case("audit", "keygen", "--out", "/proc/k.pem", says="/proc/k.pem"),
    case("audit", "keygen", "--out", "afile/k.pem", says="afile/k.pem"),
    case(
        "audit",
        "keygen",
        "--out",
        "k.pem",
        "--public-out",
        "/proc/p.pem",
        says="/proc/p.pem",
        absent=("k.pem",),
    ),
    case(
        "audit",
        "keygen",
        "--out",
        "k.pem",
        "--public-out",
        "k.pem",
        says="k.pem",
        absent=("k.pem",),
    ),
    case("audit", "keygen", "--out", "", "--force", says="--out"),
    case("audit", "keygen", "--out", "adir", "--force", says=("adir", "folder")),
    # -- values: numbers, durations, key=value, JSON, empty strings, unknown ids ------
    case("budget", "set", RUN, "tokens=-1", says=("tokens", "negative")),
    case("budget", "set", RUN, "=", says="tokens=N"),
    case("budget", "set", RUN, "tokens", says="tokens=N"),
    case("budget", "set", RUN, "usd=lots", says="lots"),
    case("budget", "set", RUN, "usd=inf", says="usd"),
    case("budget", "set", RUN, "usd=1e999", says="usd"),
    case("budget", "set", RUN, "tokens=10000000000000000000000000000000", says="tokens"),
    case("budget", "set", "not-a-run", "tokens=1", says="run id"),
    case("budget", "set", "", "tokens=1", says="run id"),
    case("budget", "set", NO_SUCH_RUN, "tokens=1", says="no run"),
    case("task", "enqueue", "ok", "--delay", "soon", says="--delay", code=2),
    case("task", "enqueue", "ok", "--delay", "-5s", says="--delay", code=2),
    case("task", "enqueue", "ok", "--delay", "1e999", says="--delay", code=2),
    case("task", "enqueue", "ok", "--priority", "99", says="--priority", code=2),
    case("task", "enqueue", "ok", "--payload", '{"n": 1', says="--payload"),
    case("task", "enqueue", "ok", "--payload", '{"n": ' + "9" * 5000 + "}", says="--payload"),
    case("task", "enqueue", "", says="not registered"),
    case("task", "list", "--limit", HUGE, says="--limit", code=2),
    case("task", "list", "--limit", "-1", says="--limit", code=2),
    case("task", "list", "--state", "", says="--state", code=2),
    case("task", "get", "", says="not a task id"),
    case("task", "get", "../../etc/passwd", says="not a task id"),
    case("task", "cancel", NO_SUCH_TASK, says="no task"),
    case("dlq", "retry", "not-a-task", says="not a task id"),
    case("run", "get", "", says="run id"),
    case("run", "get", HUGE, says="run id"),
    case("run", "events", NO_SUCH_RUN, says="no run"),
    case("run", "start", "release", "--input", "nope", says="--input"),
    case("run", "start", "release", "--wait", "--timeout", "nan", says="--timeout", code=2),
    case("run", "start", "release", "--wait", "--timeout", "-1", says="--timeout", code=2),
    case("send", "lead", "lead", "-s", "x", "--json", "{", says="--json"),
    case("send", "lead", "lead", "-s", "x", "--ttl", "1e999", says="--ttl", code=2),
    case("send", "", "lead", "-s", "x", says="agent name"),
    case("inbox", "lead", "--limit", "0", says="--limit", code=2),
    case("inbox", "lead", "--after-seq", "-1", says="--after-seq", code=2),
    case("inbox", "lead", "--after-seq", "1", "--follow", says="--after-seq", code=2),
    case("inbox", "", says="no agent"),
    case("read", "lead", "", says="message id"),
    case("thread", "not-a-message", says="message id"),
    case("agent", "add", "", says="agent name"),
    case("agent", "add", "x" * 1000, says="agent name"),
    case("agent", "remove", "nobody", says="no agent"),
    case("key", "create", "--agent", "lead", "--expires", "forever", says="--expires", code=2),
    case("key", "revoke", "", says="key"),
    case("secret", "delete", "", says="secret name"),
    case(
        "gate",
        "waive",
        RUN,
        "draft",
        "--owner",
        "o",
        "--expires",
        "1x",
        "--control",
        "c",
        says="--expires",
        code=2,
    ),
    case("gate", "approve", RUN, "publish", "--by", "", says="approver"),
    case("server", "--check", "--port", "99999", says="--port", code=2),
    case("task", "list", env={"COORD_LEASE_DURATION": "1e999"}, says="COORD_LEASE_DURATION"),
    case(
        "task",
        "list",
        env={"COORD_API_URL": "http://[::1", "COORD_API_KEY": "k"},
        says="COORD_API_URL",
    ),
]


@pytest.fixture(scope="module")
def hostile(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Workspace, str]]:
    """A prepared SQLite workspace with a run, an agent and the hostile files."""
    with open_workspace(request, tmp_path_factory.mktemp("hostile"), "sqlite") as ws:
        ws.prepare()
        ws.ok("agent", "add", "lead", "--human")
        run_id = ws.ok("run", "start", "release", "--input", '{"topic": "t"}').stdout.strip()
        (ws.cwd / "latin1.yaml").write_bytes(NOT_UTF8)
        (ws.cwd / "latin1.jsonl").write_bytes(b'{"n": "caf\xe9"}\n')
        (ws.cwd / "broken.yaml").write_text("name: [\n")
        (ws.cwd / "adir").mkdir()
        (ws.cwd / "afile").write_text("a file, not a folder\n")
        (ws.cwd / "broken_mod.py").write_text("def (:\n")
        (ws.cwd / "raising_mod.py").write_text("raise RuntimeError('boom at import')\n")
        yield ws, run_id


def _tree(root: Path) -> set[str]:
    """Every path under ``root`` but the database's folder."""
    return {str(p.relative_to(root)) for p in root.rglob("*") if ".coord" not in p.parts}


@pytest.fixture
def in_process(hostile: tuple[Workspace, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run CliRunner calls in the workspace, restoring what the CLI changes in this
    process (the root logger's handlers, sys.path)."""
    ws, _ = hostile
    monkeypatch.chdir(ws.cwd)
    monkeypatch.setattr(sys, "path", list(sys.path))
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        root.handlers[:], root.level = handlers, level


def _check(c: Case, code: int, stdout: str, stderr: str, cwd: Path, before: set[str]) -> None:
    where = f"$ coord {c.name}\nexit {code}\n--- stdout\n{stdout}--- stderr\n{stderr}---"
    assert code == c.code, where
    assert "Traceback" not in stderr, where
    if c.code == 1:
        assert stdout == "", where
        errors = [line for line in stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, where
    else:
        assert "Usage:" in stderr, where
    for fragment in c.says:
        assert fragment.lower() in stderr.lower(), f"the error does not say {fragment!r}\n{where}"
    for path in c.absent:
        assert not (cwd / path).exists(), f"{path} was left behind\n{where}"
    assert _tree(cwd) == before, f"the failure wrote {_tree(cwd) - before}\n{where}"


def _env(ws: Workspace, extra: dict[str, str]) -> dict[str, str | None]:
    """The workspace's environment for an in-process call (unsetting other COORD_*)."""
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("COORD_")}
    env.update({k: v for k, v in ws.env.items() if k.startswith("COORD_") or k == "NO_COLOR"})
    env.update(extra)
    return env


@pytest.mark.usefixtures("in_process")
def test_every_hostile_value_is_one_error_line_and_writes_nothing(
    hostile: tuple[Workspace, str],
) -> None:
    ws, run_id = hostile
    runner, failures = CliRunner(), []
    for c in CASES:
        args = [a.replace(RUN, run_id) for a in c.args]
        before = _tree(ws.cwd)
        result = runner.invoke(cli_app, args, env=_env(ws, c.env), input=c.stdin)
        try:
            if result.exception is not None and not isinstance(result.exception, SystemExit):
                raise AssertionError(f"$ coord {c.name}: raised {result.exception!r}")
            _check(c, result.exit_code, result.stdout, result.stderr, ws.cwd, before)
        except AssertionError as exc:
            failures.append(str(exc))
    assert not failures, f"{len(failures)} of {len(CASES)} cases failed:\n\n" + "\n\n".join(
        failures
    )


def test_a_json_error_under_output_json(hostile: tuple[Workspace, str]) -> None:
    ws, _ = hostile
    (ws.cwd / "latin1.yaml").write_bytes(NOT_UTF8)
    result = ws.run("workflow", "validate", "latin1.yaml", "-o", "json")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.describe()
    error = result.error_json()
    assert error["code"] == "invalid_workflow" and "UTF-8" in str(error), result.describe()


REAL = [  # through the installed script, with real stdin: a handful, started together
    case("workflow", "validate", "latin1.yaml", says=("latin1.yaml", "UTF-8")),
    case("run", "dossier", RUN, "--out", "/proc/dossier", says="/proc/dossier"),
    case("budget", "set", RUN, "tokens=-1", says=("tokens", "negative")),
    case("task", "enqueue", "ok", "-f", "-", stdin=b'{"n": "caf\xe9"}\n', says="UTF-8"),
    case(
        "secret",
        "set",
        "token",
        stdin=b"caf\xe9",
        env={"COORD_SECRET_KEYS": SECRET_KEY},
        says="UTF-8",
    ),
    case(
        "task",
        "list",
        env={"COORD_API_URL": "http://[::1", "COORD_API_KEY": "k"},
        says="COORD_API_URL",
    ),
    case("task", "list", "--limit", HUGE, says="--limit", code=2),
]


def test_the_coord_script_reports_them_alike(hostile: tuple[Workspace, str]) -> None:
    ws, run_id = hostile
    before = _tree(ws.cwd)
    procs = [
        (
            c,
            subprocess.Popen(
                [str(COORD), *(a.replace(RUN, run_id) for a in c.args)],
                cwd=ws.cwd,
                env={**ws.env, **c.env},
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            ),
        )
        for c in REAL
    ]
    for c, proc in procs:
        out, err = proc.communicate(c.stdin or b"", timeout=60)
        _check(c, proc.returncode, out.decode(), err.decode(), ws.cwd, before)
