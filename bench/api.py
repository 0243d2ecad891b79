"""REST API benchmark: send message and enqueue task over HTTP, keys and RBAC on.

    .venv/bin/python bench/api.py [--backend sqlite|postgres|both] [--rate 500]
                                  [--seconds 10] [--connections 64] [--quick]

Needs aiohttp for the load generator (`pip install -e '.[bench]'`).

For each backend: a fresh database (a temporary SQLite file; a PostgreSQL database
``coord_bench_api``, dropped afterwards) with agents ``alice`` (role ``agent``) and
``bob``, a key for alice, and a task ``noop``. ``coord server`` runs as its own
process (uvicorn, one worker) on a loopback port; its rate limit is set far above the
load, so the token buckets are charged on every request but never refuse one.

Workloads, each measured after a one-second warm-up:

- ``open_loop``: requests sent on a fixed schedule at ``--rate`` per second over up to
  ``--connections`` keep-alive connections; each latency is measured from the time
  the request was due (not when it went out), so a server falling behind shows in the
  percentiles instead of slowing the generator down. Reports the achieved rate and
  p50/p95/p99/max. Target on PostgreSQL: p95 <= 20 ms at 500 requests/s.
- ``closed_loop``: ``--connections`` clients each sending the next request as soon as
  the last answered, for the top throughput.

Operations: ``send`` (``POST /api/v1/messages`` alice -> bob), ``send_20`` (the same to
20 recipients in turn: sends to one mailbox wait for each other on its gap-free
sequence), ``enqueue``
(``POST /api/v1/tasks`` of ``noop``) and, as the floor of the HTTP stack and the
generator on this machine, ``healthz`` (no key, no database). Ratios against
``healthz`` are printed with the table. Prints one JSON line per result.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent / "peers"))
import common

import coord
from coord.app import connect
from coord.services import auth
from coord.services import keys as key_service
from coord.settings import load_settings

COORD = Path(sys.executable).parent / "coord"
RECIPIENTS = 20
_TURNS = itertools.count()
OPERATIONS: dict[str, tuple[str, str, dict[str, Any] | None, bool]] = {
    # name: (method, path, json body, authenticated)
    "healthz": ("GET", "/healthz", None, False),
    "send": ("POST", "/api/v1/messages", {"to": "bob", "subject": "bench", "body": {"n": 1}}, True),
    # The same, to 20 recipients in turn: sends to one mailbox queue up on its sequence
    # (gap-free, so one at a time); agents usually write to many.
    "send_20": (
        "POST",
        "/api/v1/messages",
        {"to": "bob", "subject": "bench", "body": {"n": 1}},
        True,
    ),
    "enqueue": ("POST", "/api/v1/tasks", {"task": "noop", "payload": {"n": 1}}, True),
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _database(backend: str) -> Iterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/bench.db"
    else:
        with common.temp_database("coord_bench_api") as dsn:
            yield dsn


def _prepare(url: str) -> str:
    """The schema, agents, the task and alice's key; return the key."""
    store = connect(load_settings(database_url=url), check_schema=False)
    store.upgrade()
    store.close()
    app = coord.App(url)

    @app.task(name="noop")
    async def noop(ctx: coord.Context, n: int = 0) -> None: ...

    app.add_agent("alice", role="agent")
    app.add_agent("bob", role="agent")
    for n in range(RECIPIENTS):
        app.add_agent(f"bob{n}", role="agent")
    key = key_service.create_key(
        app.store,
        agent="alice",
        role=None,
        expires=None,
        roles=auth.load_roles(None),
        actor="bench",
    ).key
    app.close()
    return key


@contextmanager
def _server(url: str, workers: int) -> Iterator[str]:
    port = _free_port()
    env = {
        **os.environ,
        "COORD_DATABASE_URL": url,
        "COORD_API_RATE": "1000000",
        "COORD_API_BURST": "1000000",
        "COORD_LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen(
        [str(COORD), "server", "--port", str(port), "--workers", str(workers)], env=env
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=15)


async def _request(session: aiohttp.ClientSession, base: str, operation: str, key: str) -> int:
    method, path, body, authenticated = OPERATIONS[operation]
    if operation == "send_20":
        body = {**(body or {}), "to": f"bob{next(_TURNS) % RECIPIENTS}"}
    headers = {"Authorization": f"Bearer {key}"} if authenticated else {}
    async with session.request(method, base + path, json=body, headers=headers) as answer:
        await answer.read()
        return answer.status


async def _open_loop(
    base: str, key: str, operation: str, rate: float, seconds: float, connections: int
) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        await _closed(session, base, key, operation, 1.0, min(connections, 8))  # warm-up
        latencies: list[float] = []
        statuses: list[int] = []

        async def one(due: float) -> None:
            status = await _request(session, base, operation, key)
            latencies.append(time.perf_counter() - due)
            statuses.append(status)

        total = int(rate * seconds)
        start = time.perf_counter()
        pending = []
        for i in range(total):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            pending.append(asyncio.create_task(one(due)))
        await asyncio.gather(*pending)
        elapsed = time.perf_counter() - start
    bad = sum(1 for s in statuses if not 200 <= s < 300)
    return {
        "offered_rps": rate,
        "achieved_rps": common.rate(len(latencies), elapsed),
        "requests": len(latencies),
        "non_2xx": bad,
        **{k: round(v, 2) for k, v in common.latency_summary(latencies).items()},
    }


async def _closed(
    session: aiohttp.ClientSession,
    base: str,
    key: str,
    operation: str,
    seconds: float,
    clients: int,
) -> tuple[int, int, float]:
    deadline = time.perf_counter() + seconds
    done = bad = 0

    async def client() -> None:
        nonlocal done, bad
        while time.perf_counter() < deadline:
            status = await _request(session, base, operation, key)
            done += 1
            bad += not 200 <= status < 300

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return done, bad, time.perf_counter() - start


async def _closed_loop(
    base: str, key: str, operation: str, seconds: float, connections: int
) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        await _closed(session, base, key, operation, 1.0, connections)  # warm-up
        done, bad, elapsed = await _closed(session, base, key, operation, seconds, connections)
    return {"clients": connections, "rps": common.rate(done, elapsed), "non_2xx": bad}


def run(backend: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    results = []
    with _database(backend) as url:
        key = _prepare(url)
        with _server(url, args.workers) as base:
            for operation in ("healthz", "send", "send_20", "enqueue"):
                opened = asyncio.run(
                    _open_loop(base, key, operation, args.rate, args.seconds, args.connections)
                )
                results.append(
                    {
                        "backend": backend,
                        "workers": args.workers,
                        "op": operation,
                        "mode": "open_loop",
                        **opened,
                    }
                )
                common.emit(results[-1])
                closed = asyncio.run(
                    _closed_loop(base, key, operation, args.seconds, args.connections)
                )
                results.append(
                    {"backend": backend, "op": operation, "mode": "closed_loop", **closed}
                )
                common.emit(results[-1])
    return results


def _table(results: list[dict[str, Any]]) -> None:
    floor = {
        (r["backend"]): r for r in results if r["op"] == "healthz" and r["mode"] == "open_loop"
    }
    print(
        f"\n{'backend':9} {'op':8} {'achieved/s':>10} {'p50 ms':>7} {'p95 ms':>7} "
        f"{'p99 ms':>7} {'p95/healthz':>11} {'max rps':>8}",
        file=sys.stderr,
    )
    top = {(r["backend"], r["op"]): r["rps"] for r in results if r["mode"] == "closed_loop"}
    for r in results:
        if r["mode"] != "open_loop":
            continue
        ratio = r["p95_ms"] / floor[r["backend"]]["p95_ms"]
        print(
            f"{r['backend']:9} {r['op']:8} {r['achieved_rps']:>10} {r['p50_ms']:>7} "
            f"{r['p95_ms']:>7} {r['p99_ms']:>7} {ratio:>11.2f} "
            f"{top[(r['backend'], r['op'])]:>8}",
            file=sys.stderr,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=1, help="coord server processes")
    parser.add_argument("--quick", action="store_true", help="2 seconds per workload")
    args = parser.parse_args()
    if args.quick:
        args.seconds = 2.0
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    results = [r for backend in backends for r in run(backend, args)]
    _table(results)


if __name__ == "__main__":
    main()
