"""Driving the real ``coord`` console script in a working directory of its own.

Every call is a fresh process, exactly as a user (or a shell script) runs it: the
environment is the test's minus any ``COORD_*`` variable, plus what the workspace sets.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import typer.main

from coord.cli.main import app as cli_app
from tests.conftest import create_database, drop_database

COORD = Path(sys.executable).parent / "coord"


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, command
    if hasattr(command, "list_commands"):  # a group: get_command imports a lazy command
        for name in sorted(command.list_commands(None)):
            yield from _commands(command.get_command(None, name), (*path, name))


# Every command of the CLI by its path (() is ``coord`` itself), found in the Typer app
# so that a new command is covered by the tests (and flagged by the docs check) at once.
ALL_COMMANDS = dict(_commands(typer.main.get_command(cli_app)))
LEAF_COMMANDS = {p: c for p, c in ALL_COMMANDS.items() if not getattr(c, "commands", None)}

# A test app, written as ``tasks.py`` into the workspace; ``coord worker --app
# tasks:app`` imports it from the current directory.
TASKS_MODULE = '''\
"""Tasks of the CLI acceptance tests."""

import asyncio
from pathlib import Path

import coord

app = coord.App()


@app.task(retries=2, retry_backoff=0.05)
def ok(ctx: coord.SyncContext, n: int = 0) -> dict:
    return {"n": n, "double": n * 2}


@app.task(retries=3, retry_backoff=0.05, retry_backoff_max=0.1)
def flaky(ctx: coord.SyncContext, n: int = 0) -> dict:
    if ctx.attempt == 1:
        raise coord.TransientError("the first attempt always fails")
    return {"n": n, "attempt": ctx.attempt}


@app.task(retries=3)
def doomed(ctx: coord.SyncContext, why: str = "bad input") -> str:
    if Path("fixed").exists():  # "deploy a fix", then replay the dead letters
        return "fixed"
    raise coord.FatalError(why)


@app.task(queue="reports")
async def report(ctx: coord.Context, title: str = "weekly") -> str:
    return title.upper()


@app.task(timeout=None)
async def slow(ctx: coord.Context, seconds: float = 1.0, tag: str = "slow") -> str:
    Path(f"{tag}.started").write_text(str(ctx.attempt))
    await asyncio.sleep(seconds)
    Path(f"{tag}.finished").write_text(str(ctx.attempt))
    return "done"


# A workflow: a draft whose gate passes on its second loop, then a release that a
# person approves (and that a rollback undoes if the run fails after it).
@app.task()
async def draft(ctx: coord.Context) -> dict:
    await ctx.artifact("notes.md", f"draft {ctx.loop} of {ctx.input['topic']}")
    ctx.charge(tokens_in=300, tokens_out=200, usd=0.01)
    return {"scores": {"quality": 0.6 + 0.2 * ctx.loop}, "text": f"draft {ctx.loop}"}


@app.task()
async def polish(ctx: coord.Context) -> dict:
    return {"advice": ctx.findings["below"]}


@app.task()
async def publish(ctx: coord.Context) -> str:
    return "published " + ctx.results["draft"]["text"]


@app.task()
async def unpublish(ctx: coord.Context) -> None:
    Path("unpublished").write_text(ctx.results["publish"])


release = app.workflow("release", budget={"tokens": 5000})
release.phase(
    "draft",
    task=draft,
    gate={"rubric": {"quality": 0.7}, "evidence": ["notes.md"], "fix": polish},
)
release.phase("publish", task=publish, after=["draft"], compensate=unpublish,
              gate={"approval": "human"})
'''

# The same workflow as YAML (``coord workflow validate`` / ``coord run plan`` take it).
RELEASE_YAML = """\
name: release
budget: {tokens: 5000}
phases:
  draft:
    task: draft
    gate: {rubric: {quality: 0.7}, evidence: [notes.md], fix: polish}
  publish: {task: publish, after: [draft], compensate: unpublish, gate: {approval: human}}
"""

# Fast timings: a burst worker exits once nothing is due within the poll interval.
FAST_ENV = {"COORD_POLL_INTERVAL": "0.2s", "NO_COLOR": "1"}
UNWANTED_ENV = ("FORCE_COLOR", "CLICOLOR_FORCE", "PYTHONSTARTUP")


def base_env() -> dict[str, str]:
    """The test's environment without coord settings that could leak in."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("COORD_") and k not in UNWANTED_ENV
    }
    env.update(FAST_ENV)
    return env


@dataclass(frozen=True)
class Result:
    """How one ``coord`` process ended."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """stdout parsed as JSON (fails the test with the output when it is not)."""
        try:
            return json.loads(self.stdout)
        except json.JSONDecodeError as exc:
            raise AssertionError(f"{self.describe()}\nstdout is not JSON: {exc}") from None

    def error_json(self) -> dict[str, Any]:
        """The ``{"error": {...}}`` object printed on stderr under ``-o json``."""
        lines = [line for line in self.stderr.splitlines() if line.startswith("{")]
        assert lines, f"{self.describe()}\nno JSON error on stderr"
        value = json.loads(lines[-1])
        assert isinstance(value, dict) and "error" in value, self.describe()
        return dict(value["error"])

    def describe(self) -> str:
        """Everything about the call, for assertion messages."""
        return (
            f"$ coord {' '.join(self.args)}\nexit code {self.returncode}\n"
            f"--- stdout\n{self.stdout}--- stderr\n{self.stderr}---"
        )


@dataclass
class Workspace:
    """A working directory with its own database, and a way to run ``coord`` there."""

    cwd: Path
    backend: str  # "sqlite" (the embedded default, relative to cwd) or "postgres"
    database_url: str | None = None  # None: COORD_DATABASE_URL unset
    env: dict[str, str] = field(default_factory=base_env)

    def __post_init__(self) -> None:
        self.cwd.mkdir(parents=True, exist_ok=True)
        if self.database_url is not None:
            self.env["COORD_DATABASE_URL"] = self.database_url

    @property
    def sqlite_file(self) -> Path:
        """Where the embedded default keeps its database."""
        return self.cwd / ".coord" / "coord.db"

    def run(
        self,
        *args: str,
        stdin: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 60.0,
    ) -> Result:
        """Run ``coord ARGS`` and wait for it."""
        proc = subprocess.run(
            [str(COORD), *args],
            cwd=self.cwd,
            env={**self.env, **(env or {})},
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Result(tuple(args), proc.returncode, proc.stdout, proc.stderr)

    def ok(self, *args: str, **kwargs: Any) -> Result:
        """Run and require exit code 0."""
        result = self.run(*args, **kwargs)
        assert result.returncode == 0, result.describe()
        return result

    def fails(self, *args: str, code: int = 1, **kwargs: Any) -> Result:
        """Run and require exit code ``code``, nothing on stdout and a message on stderr."""
        result = self.run(*args, **kwargs)
        assert result.returncode == code, result.describe()
        assert result.stdout == "", result.describe()
        assert result.stderr.strip(), result.describe()
        return result

    def data(self, *args: str, **kwargs: Any) -> Any:
        """Run with ``-o json`` and return the parsed stdout."""
        return self.ok(*args, "-o", "json", **kwargs).json()

    def popen(self, *args: str) -> subprocess.Popen[str]:
        """Start ``coord ARGS`` in the background (stdout and stderr captured)."""
        return subprocess.Popen(
            [str(COORD), *args],
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def signal_worker(
        self, started: str, signals: Sequence[signal.Signals], *options: str, timeout: float
    ) -> Result:
        """Start ``coord worker --app tasks:app OPTIONS``, wait until the file ``started``
        appears (a handler wrote it), send ``signals`` and wait for the worker to exit."""
        proc = self.popen("worker", "--app", "tasks:app", *options)
        try:
            wait_for((self.cwd / started).exists, what=f"{started} to appear")
            return stop(proc, signals, timeout=timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()

    # -- the usual steps of a scenario ------------------------------------------------
    def write_tasks_module(self) -> None:
        """Put the test app (``tasks:app``) and its workflow as YAML (``release.yaml``)
        into the workspace."""
        (self.cwd / "tasks.py").write_text(TASKS_MODULE)
        (self.cwd / "release.yaml").write_text(RELEASE_YAML)

    def prepare(self) -> None:
        """Create the schema, write the app, and register its tasks (a burst worker run
        on an empty queue records their policies, so ``coord task enqueue`` knows them)."""
        self.ok("db", "upgrade")
        self.write_tasks_module()
        self.burst()

    def burst(self) -> dict[str, int]:
        """Run a burst worker on every queue of the app; return its stats."""
        stats = self.data("worker", "--app", "tasks:app", "--burst")
        assert isinstance(stats, dict)
        return stats

    def enqueue(self, name: str, payload: str | None = None, *options: str) -> str:
        """Enqueue one task; return its id."""
        args = ["task", "enqueue", name, *options]
        if payload is not None:
            args += ["--payload", payload]
        task_id = self.ok(*args).stdout.strip()
        assert is_task_id(task_id), task_id
        return task_id

    def task(self, task_id: str) -> dict[str, Any]:
        """``coord task get`` as data: ``{"task": ..., "events": [...]}``."""
        found = self.data("task", "get", task_id)
        assert isinstance(found, dict)
        return found

    def tasks(self, *filters: str) -> list[dict[str, Any]]:
        """``coord task list`` as data."""
        found = self.data("task", "list", "--limit", "1000", *filters)
        assert isinstance(found, list)
        return found


@contextmanager
def open_workspace(request: pytest.FixtureRequest, cwd: Path, backend: str) -> Iterator[Workspace]:
    """A workspace in ``cwd``: the embedded default for ``sqlite``; for ``postgres`` a
    brand-new database on the test server, dropped afterwards."""
    if backend == "sqlite":
        yield Workspace(cwd, "sqlite")
        return
    admin_url: str = request.getfixturevalue("postgres_server")
    url = create_database(admin_url)
    try:
        yield Workspace(cwd, "postgres", url)
    finally:
        drop_database(admin_url, url)


class Templates:
    """Workspaces built once (by ``coord`` commands) and copied for each test that starts
    from them: a copy holds exactly what the commands wrote, and costs no process.

    A template is made the first time a test asks for it, in a directory of its own:
    on SQLite the copy is the whole directory (the database under ``.coord/`` and the
    files the build wrote); on PostgreSQL the files, and a new database created from
    the template's (``CREATE DATABASE ... TEMPLATE``: no session may be connected to
    it then, and none is, since every ``coord`` process of the build has exited)."""

    def __init__(self, request: pytest.FixtureRequest, root: Path) -> None:
        self._request = request
        self._root = root
        self._made: dict[tuple[str, str], Workspace] = {}
        self._admin: str | None = None

    def template(self, name: str, backend: str, build: Callable[[Workspace], object]) -> Workspace:
        """The template ``name`` on ``backend``, built by ``build`` the first time."""
        key = (name, backend)
        if key not in self._made:
            cwd = self._root / f"{name}-{backend}"
            url = create_database(self._admin_url()) if backend == "postgres" else None
            self._made[key] = ws = Workspace(cwd, backend, url)  # dropped even if build fails
            build(ws)
        return self._made[key]

    @contextmanager
    def copy(
        self, name: str, backend: str, cwd: Path, build: Callable[[Workspace], object]
    ) -> Iterator[Workspace]:
        """A copy of the template ``name`` on ``backend`` in ``cwd`` (dropped afterwards)."""
        template = self.template(name, backend, build)
        shutil.copytree(template.cwd, cwd)
        if template.database_url is None:
            yield Workspace(cwd, backend)
            return
        admin_url = self._admin_url()
        url = create_database(admin_url, template=template.database_url)
        try:
            yield Workspace(cwd, backend, url)
        finally:
            drop_database(admin_url, url)

    def close(self) -> None:
        """Drop the templates' PostgreSQL databases."""
        for ws in self._made.values():
            if ws.database_url is not None:
                drop_database(self._admin_url(), ws.database_url)

    def _admin_url(self) -> str:
        # Asked for once (the first PostgreSQL template) and kept: at the end of the
        # session the fixture may be torn down before this one is.
        if self._admin is None:
            self._admin = str(self._request.getfixturevalue("postgres_server"))
        return self._admin


def is_task_id(text: str) -> bool:
    """Task ids are canonical UUID strings."""
    import uuid

    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False


def wait_for(
    condition: Callable[[], bool], *, timeout: float = 20.0, what: str = "condition"
) -> None:
    """Poll until ``condition()`` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        time.sleep(0.05)


def stop(
    proc: subprocess.Popen[str], signals: Sequence[signal.Signals], *, timeout: float
) -> Result:
    """Send ``signals`` to a background ``coord`` (0.3 s apart), wait for it to exit."""
    for number, sig in enumerate(signals):
        if number:
            time.sleep(0.3)
        proc.send_signal(sig)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
        raise AssertionError(f"coord did not exit within {timeout}s\n{stderr}") from None
    args = tuple(str(a) for a in proc.args[1:])  # type: ignore[index]
    return Result(args, proc.returncode, stdout, stderr)
