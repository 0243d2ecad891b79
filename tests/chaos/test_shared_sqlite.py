"""One SQLite file shared by many processes under SIGKILLs.

Regression (issue 13, item 1): with 4 workers, 2 enqueuing processes and a server on
one file, writers waited seconds for the file's write lock, and the SQLite store took
its clock before that wait: claims committed leases that had already expired, live
workers lost 11 leases and 35 memoized effects ran twice outside any kill window.

Here 4 ``coord worker`` processes drain ``chaos.work`` tasks (each runs a memoized
step whose body records an "effect" with the task's id) while two processes enqueue
them in paced batches, one through the SDK on the file and one through the REST API
of a ``coord server`` on the same file (which also seals the ledger every second).
Meanwhile another program takes the file's write lock now and then and holds it for
half a lease (a backup, a bulk import), so every writer regularly waits for it. A
worker holding running tasks is SIGKILLed every 2 seconds and replaced at once.
What must hold (``check_work_history``): 0 acknowledged tasks lost, each succeeded
exactly once; 0 leases lost by a live worker (every expired attempt belongs to a
killed process); 0 effects run twice outside a kill window (an effect ran again only
in an attempt killed before its step was recorded).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.acceptance.server_process import free_port
from tests.chaos import chaos_app
from tests.chaos.harness import (
    CHAOS_GROUP,
    FULL,
    LEASE,
    REPO,
    ChaosDB,
    Fleet,
    coord_executable,
    prepare_database,
    read_sink,
    wait_for,
)
from tests.chaos.work_history import check_work_history, holding_workers

pytestmark = [pytest.mark.chaos, pytest.mark.slow, CHAOS_GROUP]

TASKS = 20_000 if FULL else 6_000
WORKERS = 4
CONCURRENCY = 8
KILL_EVERY = 2.0  # seconds
BATCH = 100  # tasks per enqueue (one write transaction each)
PAUSE = 0.0  # seconds between a feeder's batches: as fast as the file lets them
MS = (5.0, 30.0)  # range of the handlers' sleeps
HOG_HOLD = 1.0  # seconds another program holds the file's write lock (half a lease)...
HOG_EVERY = 3.0  # ...every this many seconds


def _environment(db: ChaosDB) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COORD_", "CHAOS_"))}
    env.update(
        COORD_DATABASE_URL=db.url,
        COORD_LEASE_DURATION=f"{LEASE:g}s",
        PYTHONPATH=os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p),
        PYTHONUNBUFFERED="1",
    )
    return env


def _coord(db: ChaosDB, *args: str) -> str:
    done = subprocess.run(
        [coord_executable(), *args],
        env=_environment(db),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"coord {' '.join(args)}: {done.stderr}"
    return done.stdout


def _spawn(db: ChaosDB, log: Path, *argv: str, cwd: Path = REPO) -> subprocess.Popen[bytes]:
    """Start a helper process of the test (output in ``log``), in its own session."""
    with log.open("wb") as out:
        return subprocess.Popen(
            list(argv),
            env=_environment(db),
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _start_server(db: ChaosDB, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = _spawn(db, workdir / "server.log", coord_executable(), "server", "--port", str(port))
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        assert proc.poll() is None, f"coord server exited {proc.returncode}"
        try:
            return httpx.get(url + "/readyz", timeout=1.0).status_code == 200
        except httpx.TransportError:
            return False

    wait_for(ready, timeout=60, what="coord server to be ready")
    return proc, url


def _feeder(db: ChaosDB, out: Path, first: int, count: int, *api: str) -> subprocess.Popen[bytes]:
    """An enqueuing process (tests/chaos/feeder.py) writing what was acknowledged to ``out``."""
    options = ["--batch", str(BATCH), "--pause", str(PAUSE), "--ms", *map(str, MS), *api]
    return _spawn(
        db,
        out.with_suffix(".log"),
        sys.executable,
        "-m",
        "tests.chaos.feeder",
        str(out),
        str(first),
        str(count),
        *options,
    )


def _acknowledged(*outs: Path) -> dict[str, int]:
    """Every task the feeders were told is stored, with its expected result."""
    expected: dict[str, int] = {}
    for out in outs:
        for line in out.read_text().splitlines():
            task_id, n = line.split()
            expected[task_id] = chaos_app.expected_result(int(n))
    return expected


def _admin_key(db: ChaosDB) -> str:
    """An admin key for the API feeder, made with the CLI."""
    _coord(db, "agent", "add", "feeder", "--role", "admin")
    created = _coord(db, "key", "create", "--agent", "feeder", "--role", "admin", "-o", "json")
    key: str = json.loads(created)["key"]
    return key


@pytest.mark.timeout(3600 if FULL else 420)
def test_one_sqlite_file_shared_by_workers_feeders_and_a_server_under_sigkills(
    tmp_path: Path,
) -> None:
    db = ChaosDB(f"sqlite:///{tmp_path / 'coord.db'}", "sqlite")
    prepare_database(db.url)
    seed = int(os.environ.get("COORD_CHAOS_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    began = time.monotonic()
    api_key = _admin_key(db)
    sink = tmp_path / "sink.log"
    outs = (tmp_path / "feeder-sdk.out", tmp_path / "feeder-api.out")
    server, url = _start_server(db, tmp_path)
    hog = _spawn(
        db,
        tmp_path / "lock_hog.log",
        sys.executable,
        "-m",
        "tests.chaos.lock_hog",
        db.sqlite_path,
        str(HOG_HOLD),
        str(HOG_EVERY),
        str(seed),
    )
    helpers = [server, hog]
    kills: list[int] = []
    try:
        with Fleet(tmp_path, db, sink) as fleet:
            fleet.notes.append(f"seed={seed} tasks={TASKS}")
            for _ in range(WORKERS):
                fleet.start(concurrency=CONCURRENCY)
            # The API accepts chaos.work once a process registered its policy: the SDK
            # feeder's first batch does.
            half = TASKS // 2
            feeders = [_feeder(db, outs[0], 0, half)]
            wait_for(outs[0].exists, timeout=60, what="the SDK feeder's first batch")
            feeders.append(_feeder(db, outs[1], half, TASKS - half, "--api", url, "--key", api_key))
            helpers += feeders

            def drained() -> bool:
                return all(f.poll() is not None for f in feeders) and db.all_final()

            while not drained():
                time.sleep(KILL_EVERY * rng.uniform(0.75, 1.25))
                holding = holding_workers(fleet, db)
                if not holding:  # nothing running right now: no kill this time
                    continue
                victim = rng.choice(holding)
                victim.kill()
                kills.append(victim.pid)
                fleet.start(concurrency=CONCURRENCY)
                assert time.monotonic() - began < (3000 if FULL else 360), "not drained in time"
            fleet.notes.append(f"killed pids={kills}")
            hog.kill()
            assert [f.returncode for f in feeders] == [0, 0], "a feeder failed (see its log)"
            survivors = fleet.alive()
            assert len(survivors) == WORKERS, "a worker died without being killed"
            codes = {w.name: w.terminate() for w in survivors}
            assert set(codes.values()) == {0}, f"exit codes after SIGTERM: {codes}"
            stats = [w.stats() or {} for w in survivors]
            expected = _acknowledged(*outs)
            assert len(expected) == TASKS, f"{TASKS - len(expected)} tasks never acknowledged"
            report = check_work_history(db, expected, set(kills), read_sink(sink))
            waits = [m for w in fleet.workers for m in w.warnings("SQLite write lock")]
            report.update(
                tasks=TASKS,
                kills=len(kills),
                survivors_lease_lost=sum(s.get("lease_lost", 0) for s in stats),
                survivors_completions_refused=sum(s.get("completions_refused", 0) for s in stats),
                feeder_batches_resent=sum(
                    o.with_suffix(".log").read_text().count("sending it again") for o in outs
                ),
                slow_lock_warnings=len(waits),
                hog_holds=(tmp_path / "lock_hog.log").read_text().count("held"),
            )
            print(f"\n[chaos shared sqlite] seed={seed} {time.monotonic() - began:.1f}s {report}")
            assert report["survivors_lease_lost"] == 0, "a live worker lost a lease"
            assert report["survivors_completions_refused"] == 0, "a live worker's outcome refused"
            assert report["expired_attempts"] > 0, "no kill interrupted a running task"
    finally:
        for proc in helpers:
            if proc.poll() is None:
                proc.kill()
        for proc in helpers:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
