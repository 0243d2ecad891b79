"""LangGraph peer benchmark: the ``phases`` workload only.

A ``StateGraph`` of PHASES_PER_WORKFLOW async no-op nodes in a line
(``START -> phase_0 -> ... -> phase_9 -> END``; each node returns ``{"phase": i}``),
compiled with a checkpointer, each run with its own ``thread_id``:

- sqlite: ``AsyncSqliteSaver`` (``langgraph-checkpoint-sqlite``) on a file in a
  temporary directory (it sets ``journal_mode=WAL``; ``synchronous`` is SQLite's
  default, reported in the notes). One aiosqlite connection, as the saver is built.
- postgres: ``AsyncPostgresSaver`` (``langgraph-checkpoint-postgres``, psycopg 3) on
  a throwaway database, over a psycopg ``AsyncConnectionPool`` of up to
  PHASES_CONCURRENCY connections opened with ``autocommit=True, prepare_threshold=0,
  row_factory=dict_row`` (the settings the saver requires); ``setup()`` creates its
  tables.

The async API is used throughout (``await graph.ainvoke(...)``, async nodes and
savers): LangGraph's sync ``SqliteSaver`` is documented as not scaling to multiple
threads, and concurrency in LangGraph is normally asyncio. ``sequential`` runs one
``ainvoke`` after another; ``concurrent`` keeps PHASES_CONCURRENCY ``ainvoke`` calls
in flight on one event loop (an ``asyncio.Semaphore`` over ``asyncio.gather``).

Each (backend, mode) runs twice, once per durability mode that saves every step:
``durability="async"`` (LangGraph's default: a step's checkpoint is written while the
next step runs; ``ainvoke`` returns once all are written) and ``durability="sync"``
(each checkpoint written before the next step starts, as DBOS and coord do). Each of
those runs gets a fresh database.

Other workloads print a ``skipped`` line.

Run with the peers venv's python:
``bench/.venv-peers/bin/python bench/peers/langgraph_bench.py --workload phases``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any, TypedDict

import common
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Durability
from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

SYSTEM = "langgraph"
VERSION = version("langgraph")
CHECKPOINTERS = {
    "sqlite": f"langgraph-checkpoint-sqlite {version('langgraph-checkpoint-sqlite')}",
    "postgres": f"langgraph-checkpoint-postgres {version('langgraph-checkpoint-postgres')}",
}
DATABASE = "coord_bench_langgraph"
#: (durability mode, variant label); the first is LangGraph's default.
DURABILITIES: tuple[tuple[Durability, str], ...] = (
    ("async", "durability async, default"),
    ("sync", "durability sync"),
)


class State(TypedDict):
    """The graph state: the index of the last phase that ran."""

    phase: int


def _node(index: int) -> Callable[..., Awaitable[dict[str, int]]]:
    async def phase(state: State) -> dict[str, int]:
        return {"phase": index}

    return phase


def build_graph(checkpointer: BaseCheckpointSaver[Any]) -> CompiledStateGraph[Any]:
    """The linear graph of PHASES_PER_WORKFLOW no-op nodes, compiled with ``checkpointer``."""
    builder = StateGraph(State)
    names = [f"phase_{index}" for index in range(common.PHASES_PER_WORKFLOW)]
    for index, name in enumerate(names):
        builder.add_node(name, _node(index))
    builder.add_edge(START, names[0])
    for before, after in itertools.pairwise(names):
        builder.add_edge(before, after)
    builder.add_edge(names[-1], END)
    return builder.compile(checkpointer=checkpointer)


@contextlib.asynccontextmanager
async def checkpointer(backend: str) -> AsyncIterator[tuple[BaseCheckpointSaver[Any], str]]:
    """A set-up checkpointer on a fresh database, and the PostgreSQL DSN ("" for SQLite)."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="coord-bench-langgraph-") as folder:
            path = str(Path(folder) / "checkpoints.sqlite")
            async with AsyncSqliteSaver.from_conn_string(path) as sqlite_saver:
                await sqlite_saver.setup()
                yield sqlite_saver, ""
        return
    with common.temp_database(DATABASE) as dsn:
        pool = AsyncConnectionPool(
            dsn,
            connection_class=AsyncConnection[DictRow],
            max_size=common.PHASES_CONCURRENCY,
            kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
            open=False,
        )
        await pool.open(wait=True)
        try:
            pg_saver = AsyncPostgresSaver(pool)
            await pg_saver.setup()
            yield pg_saver, dsn
        finally:
            await pool.close()


async def sqlite_synchronous(saver: BaseCheckpointSaver[Any]) -> str:
    """The SQLite ``synchronous`` setting the saver's connection runs with."""
    assert isinstance(saver, AsyncSqliteSaver)
    async with saver.conn.execute("PRAGMA synchronous") as cursor:
        row = await cursor.fetchone()
    names = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
    return names.get(row[0], str(row[0])) if row else "?"


async def timed_run(
    graph: CompiledStateGraph[Any], thread_id: str, durability: Durability
) -> float:
    """One run from START to its final state; its wall time in seconds."""
    config: RunnableConfig = {"configurable": {"thread_id": thread_id}}
    start = time.perf_counter()
    final = await graph.ainvoke({"phase": -1}, config, durability=durability)
    elapsed = time.perf_counter() - start
    if final.get("phase") != common.PHASES_PER_WORKFLOW - 1:
        raise RuntimeError(f"run {thread_id} ended in state {final!r}")
    return elapsed


async def phases(backend: str, mode: str, durability: Durability, n: int) -> dict[str, Any]:
    """``n`` runs of the 10-node graph, one at a time or PHASES_CONCURRENCY at a time."""
    warmup = common.PHASES_WARMUP_RUNS
    async with checkpointer(backend) as (saver, dsn):
        graph = build_graph(saver)
        if mode == "sequential":
            for k in range(warmup):
                await timed_run(graph, f"warmup-{k}", durability)
            if dsn:
                common.checkpoint(dsn)
            runs = [await timed_run(graph, f"run-{k}", durability) for k in range(n)]
            fields = common.phases_summary(runs)
            how = f"one ainvoke at a time, {warmup} untimed warm-up runs"
        else:
            semaphore = asyncio.Semaphore(common.PHASES_CONCURRENCY)

            async def bounded(thread_id: str) -> float:
                async with semaphore:
                    return await timed_run(graph, thread_id, durability)

            await asyncio.gather(*(bounded(f"warmup-{k}") for k in range(warmup)))
            if dsn:
                common.checkpoint(dsn)
            start = time.perf_counter()
            runs = list(await asyncio.gather(*(bounded(f"run-{k}") for k in range(n))))
            elapsed = time.perf_counter() - start
            fields = common.phases_summary(runs, elapsed)
            how = (
                f"{common.PHASES_CONCURRENCY} ainvoke calls in flight on one event loop "
                f"(asyncio.Semaphore), {warmup} untimed warm-up runs the same way"
            )
        storage = (
            f"AsyncPostgresSaver on an AsyncConnectionPool(max_size={common.PHASES_CONCURRENCY})"
            if dsn
            else f"AsyncSqliteSaver, WAL, synchronous={await sqlite_synchronous(saver)}"
        )
    return fields | {
        "notes": (
            f"StateGraph of {common.PHASES_PER_WORKFLOW} async no-op nodes in a line, "
            f"ainvoke(durability={durability!r}), own thread_id per run; {how}; {storage}"
        )
    }


def main() -> int:
    """Entry point: run the phases workload and print its JSON result lines."""
    args = common.parse_args(__doc__ or "", workloads=common.WORKLOADS)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if args.workload != "phases":
        reason = "only the phases workload is implemented"
        for backend in ("sqlite", "postgres"):
            common.emit(common.skip_record(SYSTEM, VERSION, backend, args.workload, reason))
        return 0
    n = common.workload_size(args.workload, args.short)
    for backend in ("postgres", "sqlite"):
        for mode in ("sequential", "concurrent"):
            for durability, variant in DURABILITIES:
                fields = asyncio.run(phases(backend, mode, durability, n))
                common.emit(
                    common.result(
                        SYSTEM,
                        VERSION,
                        backend,
                        "phases",
                        {"mode": mode, "variant": variant, "checkpointer": CHECKPOINTERS[backend]}
                        | fields,
                    )
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
