"""What the chaos tests share: real worker processes, the database read with plain SQL,
the execution sink, and diagnostics when something goes wrong."""

from __future__ import annotations

import ast
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from coord.app import connect
from coord.settings import load_settings

REPO = Path(__file__).resolve().parents[2]
APP_REF = "tests.chaos.chaos_app:app"
FULL = os.environ.get("COORD_CHAOS_FULL") == "1"
LEASE = 2.0  # seconds: COORD_LEASE_DURATION of every chaos worker

# Every chaos test is in one xdist group (the suite runs with ``--dist loadgroup``): they
# run one after another on one xdist worker, never two at once. Each starts several
# worker processes with 2 s leases and checks that no live worker lost one; two of them
# at once on a small machine starve each other's heartbeats, which is another test.
CHAOS_GROUP = pytest.mark.xdist_group("chaos")

_STARTED = re.compile(r"^worker (\S+) started")
_STOPPED = re.compile(r"^worker (\S+) stopped: (\{.*\})$")


def coord_executable() -> str:
    """The ``coord`` script of the environment running the tests."""
    candidate = Path(sys.executable).parent / "coord"
    return str(candidate if candidate.exists() else REPO / ".venv" / "bin" / "coord")


def owner_pid(owner: str | None) -> int | None:
    """The pid inside a worker id ``host:pid:random``."""
    if not owner:
        return None
    parts = owner.rsplit(":", 2)
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None


def wait_for(
    condition: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.2
) -> float:
    """Poll ``condition`` until it holds; return the seconds waited (or fail)."""
    began = time.monotonic()
    while not condition():
        if time.monotonic() - began > timeout:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)
    return time.monotonic() - began


def prepare_database(url: str) -> None:
    """Create coord's schema in a new database."""
    store = connect(load_settings(database_url=url), check_schema=False)
    try:
        store.upgrade()
    finally:
        store.close()


# -- the database, read with plain SQL -----------------------------------------------
@dataclass(frozen=True, slots=True)
class TaskRow:
    id: str
    name: str
    state: str
    attempt: int
    owner: str | None
    result: Any


@dataclass(frozen=True, slots=True)
class EventRow:
    id: int
    topic: str
    task_id: str
    actor: str | None
    data: dict[str, Any]
    created_at: float  # epoch seconds


@dataclass(frozen=True, slots=True)
class ChaosDB:
    """A fresh coord database for one test, on either backend."""

    url: str
    dialect: str  # "sqlite" or "postgres"

    @property
    def name(self) -> str:
        """The PostgreSQL database name (or the SQLite file)."""
        return self.url.rpartition("/")[2]

    @property
    def sqlite_path(self) -> str:
        return self.url.removeprefix("sqlite:///")

    def url_for(self, application_name: str) -> str:
        """The URL a worker should use (PostgreSQL sessions carry ``application_name``,
        so the test can tell whose backends are busy)."""
        if self.dialect != "postgres":
            return self.url
        return f"{self.url}?application_name={application_name}"

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read query (``%s`` placeholders) on a short-lived connection."""
        if self.dialect == "sqlite":
            conn = sqlite3.connect(self.sqlite_path, timeout=30)
            try:
                return conn.execute(sql.replace("%s", "?"), tuple(params)).fetchall()
            finally:
                conn.close()
        for attempt in range(5):  # a chaos test may be terminating sessions right now
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as conn:
                    return conn.execute(sql, tuple(params)).fetchall()
            except psycopg.OperationalError:
                if attempt == 4:
                    raise
                time.sleep(0.2)
        raise AssertionError("unreachable")

    def _epoch(self, column: str) -> str:
        return column if self.dialect == "sqlite" else f"extract(epoch FROM {column})::float8"

    def state_counts(self) -> dict[str, int]:
        return dict(self.rows("SELECT state, count(*) FROM coord_tasks GROUP BY state"))

    def count_in(self, *states: str) -> int:
        counts = self.state_counts()
        return sum(counts.get(s, 0) for s in states)

    def all_final(self) -> bool:
        """No task pending, failed (waiting for a retry) or running."""
        return self.count_in("pending", "failed", "running") == 0

    def running_per_owner(self) -> dict[str, int]:
        return dict(
            self.rows("SELECT owner, count(*) FROM coord_tasks WHERE state = 'running' GROUP BY 1")
        )

    def tasks(self) -> dict[str, TaskRow]:
        rows = self.rows(
            "SELECT CAST(id AS TEXT), name, state, attempt, owner, CAST(result AS TEXT) "
            "FROM coord_tasks"
        )
        return {
            r[0]: TaskRow(r[0], r[1], r[2], r[3], r[4], None if r[5] is None else json.loads(r[5]))
            for r in rows
        }

    def events(self, *topics: str) -> list[EventRow]:
        sql = (
            "SELECT id, topic, CAST(task_id AS TEXT), actor, CAST(data AS TEXT), "
            f"{self._epoch('created_at')} FROM coord_events"
        )
        params: list[Any] = []
        if topics:
            sql += " WHERE topic IN (" + ", ".join(["%s"] * len(topics)) + ")"
            params = list(topics)
        rows = self.rows(sql + " ORDER BY id", params)
        return [
            EventRow(r[0], r[1], r[2], r[3], {} if r[4] is None else json.loads(r[4]), r[5])
            for r in rows
        ]

    def steps(self) -> list[tuple[str, str, int]]:
        """``(task_id, step name, attempt)`` of every recorded step."""
        return [
            (r[0], r[1], r[2])
            for r in self.rows("SELECT CAST(task_id AS TEXT), name, attempt FROM coord_steps")
        ]

    def history(self, task_id: str) -> str:
        """A task's events, one per line (for failure messages)."""
        rows = self.rows(
            "SELECT id, topic, actor, CAST(data AS TEXT), "
            f"{self._epoch('created_at')} FROM coord_events "
            "WHERE CAST(task_id AS TEXT) = %s ORDER BY id",
            [task_id],
        )
        return "\n".join(f"  #{r[0]} {r[4]:.3f} {r[1]} by {r[2]}: {r[3]}" for r in rows)

    # -- pausing safely --------------------------------------------------------------
    def holds_locks(self, application_name: str) -> bool:
        """Does the (paused) worker hold database locks that would stall everyone?

        SQLite: its write lock is taken if nobody can begin a write transaction for a
        while (other writers hold it for milliseconds). PostgreSQL: one of its sessions
        is inside a transaction (``idle in transaction`` or still ``active``).
        """
        if self.dialect == "postgres":
            [(busy,)] = self.rows(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                "AND application_name = %s AND state <> 'idle'",
                [self.name, application_name],
            )
            return bool(busy)
        conn = sqlite3.connect(self.sqlite_path, timeout=0.25, isolation_level=None)
        try:
            for _ in range(4):
                try:
                    conn.execute("BEGIN IMMEDIATE")
                except sqlite3.OperationalError:
                    continue
                conn.execute("ROLLBACK")
                return False
            return True
        finally:
            conn.close()


# -- the sink ----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SinkRecord:
    kind: str
    task_id: str
    attempt: int
    pid: int
    at: float


def read_sink(path: Path) -> list[SinkRecord]:
    """Every line of the sink (a torn last line cannot happen: one write per line)."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        kind, task_id, attempt, pid, at = line.split()
        records.append(SinkRecord(kind, task_id, int(attempt), int(pid), float(at)))
    return records


@dataclass(frozen=True, slots=True)
class RunSinkRecord:
    """A line of ``chaos_app.record_run``: a :class:`SinkRecord` of a workflow run's
    task, with its run, phase and a detail (a step name, a checkpoint...)."""

    kind: str
    task_id: str
    attempt: int
    pid: int
    at: float
    run_id: str
    phase: str
    detail: str


def run_sink_record(line: str) -> RunSinkRecord:
    """One line written by ``record_run``."""
    kind, task_id, attempt, pid, at, run_id, phase, detail = line.split()
    return RunSinkRecord(kind, task_id, int(attempt), int(pid), float(at), run_id, phase, detail)


def read_run_sink(path: Path) -> list[RunSinkRecord]:
    """Every line of a sink written with ``record_run``."""
    if not path.exists():
        return []
    return [run_sink_record(line) for line in path.read_text().splitlines()]


# -- worker processes --------------------------------------------------------------
@dataclass
class WorkerProcess:
    """One ``coord worker`` subprocess with its logs in files."""

    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    out_path: Path
    started_at: float = field(default_factory=time.monotonic)
    signals: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def send(self, sig: signal.Signals) -> None:
        self.signals.append(sig.name)
        os.kill(self.pid, sig)

    def kill(self) -> None:
        """SIGKILL, and reap."""
        self.send(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM (graceful stop); return the exit code."""
        self.send(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def log_lines(self) -> list[dict[str, Any]]:
        """The JSON log lines on stderr (other lines as ``{"raw": ...}``)."""
        entries = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                entry = {"raw": line}
            entries.append(entry if isinstance(entry, dict) else {"raw": line})
        return entries

    def owner(self) -> str | None:
        """The worker id, from its ``started`` log line."""
        for entry in self.log_lines():
            match = _STARTED.match(str(entry.get("message", "")))
            if match:
                return match.group(1)
        return None

    def stats(self) -> dict[str, int] | None:
        """The counters of the final ``worker <id> stopped: {...}`` log line."""
        for entry in reversed(self.log_lines()):
            match = _STOPPED.match(str(entry.get("message", "")))
            if match:
                parsed: dict[str, int] = ast.literal_eval(match.group(2))
                return parsed
        return None

    def warnings(self, containing: str = "") -> list[str]:
        return [
            str(e.get("message"))
            for e in self.log_lines()
            if e.get("level") == "warning" and containing in str(e.get("message", ""))
        ]

    def tail(self, lines: int = 25) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        out = self.out_path.read_text(errors="replace").strip()
        return "\n".join(text) + (f"\n[stdout] {out}" if out else "")


class Fleet:
    """Starts workers and guarantees none outlives the test; prints their log tails
    when the test fails."""

    def __init__(self, workdir: Path, db: ChaosDB, sink: Path, **env: str) -> None:
        self.workdir = workdir
        self.db = db
        self.sink = sink
        self.env = env
        self.workers: list[WorkerProcess] = []
        self.notes: list[str] = []

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.cleanup()
        if exc_type is not None:
            print(self.diagnostics())
            self.dump()

    def dump(self) -> None:
        """Save both tables next to the worker logs, for a post-mortem."""
        try:
            for table in ("coord_tasks", "coord_events"):
                rows = self.db.rows(f"SELECT * FROM {table}")
                path = self.workdir / f"{table}.tsv"
                path.write_text("\n".join("\t".join(map(str, row)) for row in rows) + "\n")
            print(f"tables, worker logs and the sink are in {self.workdir}")
        except Exception as exc:  # diagnostics must never hide the real failure
            print(f"could not dump the tables: {exc!r}")

    def start(self, name: str | None = None, *, concurrency: int = 8, **env: str) -> WorkerProcess:
        name = name or f"w{len(self.workers) + 1}"
        environment = {
            k: v for k, v in os.environ.items() if not k.startswith(("COORD_", "CHAOS_"))
        }
        environment.update(
            {
                "COORD_DATABASE_URL": self.db.url_for(f"chaos-{name}"),
                "COORD_LEASE_DURATION": f"{LEASE:g}s",
                "COORD_POLL_INTERVAL": "0.5s",
                "COORD_SHUTDOWN_GRACE": "5s",
                "COORD_LOG_FORMAT": "json",
                "COORD_LOG_LEVEL": "INFO",
                "CHAOS_SINK": str(self.sink),
                "PYTHONPATH": os.pathsep.join(
                    p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p
                ),
                "PYTHONUNBUFFERED": "1",
                **self.env,
                **env,
            }
        )
        log_path = self.workdir / f"worker-{name}.log"
        out_path = self.workdir / f"worker-{name}.out"
        with log_path.open("wb") as log, out_path.open("wb") as out:
            proc = subprocess.Popen(
                [
                    coord_executable(),
                    "worker",
                    "--app",
                    APP_REF,
                    "--concurrency",
                    str(concurrency),
                    "-o",
                    "json",
                ],
                cwd=self.workdir,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=log,
                start_new_session=True,  # a Ctrl-C of pytest must not reach the workers
            )
        worker = WorkerProcess(name, proc, log_path, out_path)
        self.workers.append(worker)
        return worker

    def alive(self) -> list[WorkerProcess]:
        return [w for w in self.workers if w.alive()]

    def by_pid(self) -> dict[int, WorkerProcess]:
        return {w.pid: w for w in self.workers}

    def wait_started(self, worker: WorkerProcess, timeout: float = 60.0) -> str:
        """Wait for the worker's ``started`` log line; return its worker id."""

        def started() -> bool:
            if not worker.alive():
                raise AssertionError(f"worker {worker.name} exited with {worker.proc.returncode}")
            return worker.owner() is not None

        wait_for(started, timeout=timeout, what=f"worker {worker.name} to start", interval=0.05)
        owner = worker.owner()
        assert owner is not None
        return owner

    def cleanup(self) -> None:
        """Kill whatever is still running (a stopped worker is continued first)."""
        for worker in self.workers:
            if worker.alive():
                for sig in (signal.SIGCONT, signal.SIGKILL):
                    try:
                        os.kill(worker.pid, sig)
                    except ProcessLookupError:
                        break
                try:
                    worker.proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self.notes.append(f"worker {worker.name} pid {worker.pid} did not die")

    def diagnostics(self) -> str:
        parts = ["", "=" * 30 + " chaos diagnostics " + "=" * 30]
        try:
            parts.append(f"task states: {self.db.state_counts()}")
        except Exception as exc:  # diagnostics must never hide the real failure
            parts.append(f"task states unavailable: {exc!r}")
        parts.extend(self.notes)
        for worker in self.workers:
            parts.append(
                f"--- worker {worker.name} pid={worker.pid} rc={worker.proc.returncode} "
                f"signals={worker.signals} ---"
            )
            try:
                parts.append(worker.tail())
            except OSError as exc:
                parts.append(f"(no log: {exc})")
        return "\n".join(parts)


@contextmanager
def paused(db: ChaosDB, worker: WorkerProcess, *, tries: int = 30) -> Iterator[float]:
    """SIGSTOP ``worker`` at a moment it holds no database lock; yield the wall time
    of the stop; SIGCONT it on exit.

    A process frozen inside a write transaction would stall every other worker (the
    SQLite write lock; PostgreSQL row locks that ``SKIP LOCKED`` walks around), which
    is not what this test is about; such a stop is undone at once and tried again.
    """
    for _ in range(tries):
        worker.send(signal.SIGSTOP)
        stopped_at = time.time()
        if not db.holds_locks(f"chaos-{worker.name}"):
            break
        worker.send(signal.SIGCONT)
        time.sleep(0.05 + 0.1 * (time.monotonic() % 1))
    else:
        raise AssertionError(f"worker {worker.name} always held a database lock when stopped")
    try:
        yield stopped_at
    finally:
        worker.send(signal.SIGCONT)


def terminate_backends(admin_url: str, database: str) -> int:
    """``pg_terminate_backend`` every session of ``database``; return how many."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        ).fetchone()
    return 0 if row is None else int(row[0])
