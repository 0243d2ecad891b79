"""Mailbox benchmarks: send throughput against task enqueue, and send-to-receive latency.

    .venv/bin/python bench/messages.py [--backend sqlite|postgres|both] [--rounds N]
                                       [--quick]

Every round gets a fresh database per backend (a temporary SQLite file; a PostgreSQL
database ``coord_bench_mail``, dropped afterwards) with agents ``tx``, ``sink`` and
``rx`` and one no-op task ``noop``. Measured in one process, after a short untimed warm-up:

- ``send_single`` / ``enqueue_single``: N messages ``tx -> sink`` with ``app.mail.send`` (N
  tasks with ``app.enqueue``), one call and one transaction each; body and payload are
  the same ``{"seq": i}``.
- ``send_batch`` / ``enqueue_batch``: the same with ``app.mail.send_many`` /
  ``app.enqueue_many``, 100 per call.

Each pair runs back to back (which of the two goes first alternates by round), and
the ratio send/enqueue is taken per round; the target is >= 0.5.

- ``latency``: a receiver process (its own App) loops ``await app.aio.mail.receive("rx")``;
  this process sends one message every ``--interval-ms`` on a fixed schedule, with
  ``time.time_ns()`` taken just before ``app.mail.send`` in the body. The receiver takes
  ``time.time_ns() - sent`` as soon as ``receive`` returns and reports it through a
  pipe. The first 10 samples are discarded; p50/p95/p99/max in ms (target on
  PostgreSQL: p95 <= 5 ms). The latency includes the ``app.mail.send`` call itself
  (``send_call_*``: that call alone; ``after_send_*``: the rest, from the call's return
  to ``receive`` returning in the receiver).

On PostgreSQL a ``CHECKPOINT`` precedes every timed phase (see bench/README.md).
Prints one JSON line per result and round on stdout, then one per result with the
median over the rounds (``"round": "median"``, with the spread), then a summary table.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent / "peers"))
import common

import coord
from coord.app import connect

SYSTEM = "coord"
PG_DATABASE = "coord_bench_mail"
BATCH = 100
WARMUP_CALLS = 50
WARMUP_SAMPLES = 10
SENDER, RECEIVER, SINK = "tx", "rx", "sink"
#: (full, --quick) sizes.
SINGLE_N = (2_000, 300)
BATCH_N = (10_000, 2_000)
LATENCY_N = (1_000, 200)
RECEIVE_POLL_S = 1.0
RATIO_TARGET = 0.5
P95_TARGET_MS = 5.0

Record = dict[str, Any]
#: Send-call durations (ns) and the receiver's reports, ``{seq: latency_ns}``.
Samples = tuple[list[int], dict[int, int]]


# ----------------------------------------------------------------------- setup


def build_app(url: str) -> coord.App:
    """An App with the no-op task the enqueue phases use."""
    app = coord.App(url)

    @app.task(queue="bench")
    async def noop(ctx: coord.Context, seq: int) -> None:
        return None

    return app


@contextmanager
def fresh_database(backend: str) -> Iterator[str]:
    """A new, migrated database with the benchmark's agents; removed afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="coord-mail-bench-") as folder:
            url = f"sqlite:///{folder}/coord.db"
            prepare(url)
            yield url
        return
    with common.temp_database(PG_DATABASE) as url:
        store = connect(coord.App(url).settings, check_schema=False)
        store.upgrade()
        store.close()
        prepare(url)
        yield url


def prepare(url: str) -> None:
    """Register the agents: ``tx`` sends to ``sink`` (throughput) and ``rx`` (latency)."""
    with build_app(url) as app:
        for name in (SENDER, SINK, RECEIVER):
            app.add_agent(name)


def before_timing(url: str, backend: str) -> None:
    """Keep a checkpoint out of the timed phase (PostgreSQL only)."""
    if backend == "postgres":
        common.checkpoint(url)


# ------------------------------------------------------------------ throughput


def send_single(app: coord.App, n: int) -> None:
    """n messages, one ``send`` call each."""
    for seq in range(n):
        app.mail.send(SINK, "bench", {"seq": seq}, sender=SENDER)


def send_batch(app: coord.App, n: int) -> None:
    """n messages, ``send_many`` of BATCH each."""
    for offset in range(0, n, BATCH):
        app.mail.send_many(
            [
                coord.Draft(SINK, "bench", {"seq": seq}, sender=SENDER)
                for seq in range(offset, min(offset + BATCH, n))
            ]
        )


def enqueue_single(app: coord.App, n: int) -> None:
    """n tasks, one ``enqueue`` call each."""
    for seq in range(n):
        app.enqueue("noop", {"seq": seq})


def enqueue_batch(app: coord.App, n: int) -> None:
    """n tasks, ``enqueue_many`` of BATCH each."""
    for offset in range(0, n, BATCH):
        app.enqueue_many("noop", [{"seq": seq} for seq in range(offset, min(offset + BATCH, n))])


PHASES: dict[str, Callable[[coord.App, int], None]] = {
    "send_single": send_single,
    "enqueue_single": enqueue_single,
    "send_batch": send_batch,
    "enqueue_batch": enqueue_batch,
}


def timed_phase(app: coord.App, url: str, backend: str, workload: str, n: int) -> Record:
    """Run one throughput phase after a checkpoint; its rate in items/s."""
    before_timing(url, backend)
    started = time.perf_counter()
    PHASES[workload](app, n)
    elapsed = time.perf_counter() - started
    return {"workload": workload, "n": n, "per_s": common.rate(n, elapsed)}


def throughput(url: str, backend: str, round_number: int, quick: bool) -> list[Record]:
    """The four throughput phases on one database; send and enqueue run in pairs,
    the pair's order alternating with the round."""
    sizes = {"single": pick(SINGLE_N, quick), "batch": pick(BATCH_N, quick)}
    records: list[Record] = []
    with build_app(url) as app:
        send_single(app, WARMUP_CALLS)  # connections, statements and caches warm
        enqueue_single(app, WARMUP_CALLS)
        for kind, n in sizes.items():
            pair = [f"send_{kind}", f"enqueue_{kind}"]
            if round_number % 2 == 0:
                pair.reverse()
            for workload in pair:
                records.append(timed_phase(app, url, backend, workload, n))
                common.log(f"{backend} {workload}: {records[-1]['per_s']:,.0f}/s")
        check_delivered(app, WARMUP_CALLS + sizes["single"] + sizes["batch"])
    return records


def check_delivered(app: coord.App, expected: int) -> None:
    """Fail loudly if ``sink`` did not get every message sent to it."""
    last = app.inbox(SINK, after_seq=expected - 1, limit=10)
    seqs = [m.seq for m in last]
    if seqs != [expected]:
        raise RuntimeError(f"sink's inbox ends at {seqs}, expected one message, seq {expected}")


def pick(sizes: tuple[int, int], quick: bool) -> int:
    """The full or the --quick size."""
    return sizes[1] if quick else sizes[0]


# --------------------------------------------------------------------- latency


def receiver_main(url: str, pipe: Connection) -> None:
    """Receiver process: report ``(seq, latency_ns)`` for each message until "stop"."""
    os.environ["COORD_LOG_LEVEL"] = "WARNING"
    asyncio.run(receive_loop(url, pipe))


async def receive_loop(url: str, pipe: Connection) -> None:
    """Receive messages for ``rx``; the latency is taken before anything else."""
    with coord.App(url) as app:
        app.store  # open the database before reporting ready  # noqa: B018
        pipe.send(("ready", 0))
        while True:
            message = await app.aio.mail.receive(RECEIVER, timeout=RECEIVE_POLL_S)
            if message is None:
                continue
            received_ns = time.time_ns()
            if message.subject == "stop":
                pipe.send(("stopped", 0))
                return
            pipe.send((message.body["seq"], received_ns - message.body["sent_ns"]))


def start_receiver(url: str) -> tuple[mp.process.BaseProcess, Connection]:
    """The receiver process, once it has opened its database."""
    ctx = mp.get_context("spawn")
    ours, theirs = ctx.Pipe()
    process = ctx.Process(target=receiver_main, args=(url, theirs), daemon=True)
    process.start()
    theirs.close()
    if not ours.poll(60) or ours.recv() != ("ready", 0):
        raise RuntimeError("receiver process did not start")
    return process, ours


def timed_send(app: coord.App, seq: int) -> int:
    """Send message ``seq`` with its send time; return how long ``send`` took (ns)."""
    sent_ns = time.time_ns()
    app.mail.send(RECEIVER, "ping", {"seq": seq, "sent_ns": sent_ns}, sender=SENDER)
    return time.time_ns() - sent_ns


def await_sample(pipe: Connection, seq: int, timeout_s: float) -> int:
    """The latency the receiver reports for ``seq`` (others are skipped)."""
    deadline = time.monotonic() + timeout_s
    while (left := deadline - time.monotonic()) > 0:
        if pipe.poll(left):
            got, latency_ns = pipe.recv()
            if got == seq:
                return int(latency_ns)
    raise TimeoutError(f"no receipt for message {seq} within {timeout_s}s")


def warm_up(app: coord.App, pipe: Connection) -> None:
    """Ping (negative sequence numbers) until the receiver answers, then let it idle."""
    for seq in range(-1, -31, -1):
        timed_send(app, seq)
        try:
            await_sample(pipe, seq, timeout_s=2.0)
        except TimeoutError:
            continue
        time.sleep(0.5)
        return
    raise TimeoutError("the receiver answered no ping")


def paced_sends(app: coord.App, pipe: Connection, n: int, interval_s: float) -> Samples:
    """Send n messages on a fixed schedule, reading the receiver's reports while
    waiting (an unread pipe fills up and would stall the receiver); return each send
    call's duration (ns) and the reports so far."""
    durations: list[int] = []
    received: dict[int, int] = {}
    start = time.monotonic()
    for seq in range(n):
        read_reports(pipe, received, until=start + seq * interval_s)
        durations.append(timed_send(app, seq))
    return durations, received


def read_reports(pipe: Connection, received: dict[int, int], until: float) -> None:
    """Store ``(seq, latency_ns)`` reports into ``received`` until the monotonic
    time ``until``."""
    while (left := until - time.monotonic()) > 0:
        if pipe.poll(left):
            seq, latency_ns = pipe.recv()
            received[seq] = latency_ns


def collect(pipe: Connection, received: dict[int, int], n: int, timeout_s: float = 60.0) -> None:
    """Read reports until the receiver has reported messages 0..n-1."""
    deadline = time.monotonic() + timeout_s
    while (missing := n - len(received.keys() & range(n))) > 0:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{missing} of {n} messages not received after {timeout_s}s")
        read_reports(pipe, received, until=min(deadline, time.monotonic() + 0.1))


def stop_receiver(app: coord.App, process: mp.process.BaseProcess, pipe: Connection) -> None:
    """Ask the receiver to stop (by message); kill it if it does not."""
    if process.is_alive():
        app.mail.send(RECEIVER, "stop", {}, sender=SENDER)
        process.join(timeout=10)
    if process.is_alive():
        process.kill()
        process.join()
    pipe.close()


def latency(url: str, backend: str, quick: bool, interval_s: float) -> Record:
    """Send-to-receive latency with an idle receiver in another process."""
    n = pick(LATENCY_N, quick)
    with build_app(url) as app:
        app.store  # noqa: B018
        process, pipe = start_receiver(url)
        try:
            warm_up(app, pipe)
            before_timing(url, backend)
            durations, samples = paced_sends(app, pipe, n, interval_s)
            collect(pipe, samples, n)
        finally:
            stop_receiver(app, process, pipe)
    kept = range(WARMUP_SAMPLES, n)
    return {
        "workload": "latency",
        "n": len(kept),
        **common.latency_summary([samples[seq] / 1e9 for seq in kept]),
        **percentiles_ms("send_call", [durations[seq] for seq in kept]),
        **percentiles_ms("after_send", [samples[seq] - durations[seq] for seq in kept]),
        "interval_ms": round(interval_s * 1000, 1),
    }


def percentiles_ms(name: str, values_ns: list[int]) -> dict[str, float]:
    """``{name}_p50_ms`` and ``{name}_p95_ms`` of nanosecond values."""
    ordered = sorted(values_ns)
    return {f"{name}_p{p}_ms": round(common.percentile(ordered, p) / 1e6, 3) for p in (50, 95)}


# ---------------------------------------------------------------------- rounds


def run_round(backend: str, round_number: int, args: argparse.Namespace) -> list[Record]:
    """Every measurement once on a fresh database of ``backend``."""
    with fresh_database(backend) as url:
        records = throughput(url, backend, round_number, args.quick)
        records.append(latency(url, backend, args.quick, args.interval_ms / 1000))
    common.log(f"{backend} latency p50/p95: {records[-1]['p50_ms']}/{records[-1]['p95_ms']} ms")
    base = {"system": SYSTEM, "version": coord.__version__, "backend": backend}
    records = [{**base, **r, "round": round_number} for r in records]
    return records + ratio_records(records)


def ratio_records(records: list[Record]) -> list[Record]:
    """send/enqueue of one round, single and batched."""
    rates = {r["workload"]: r["per_s"] for r in records if "per_s" in r}
    first = records[0]
    out = []
    for kind in ("single", "batch"):
        value = rates[f"send_{kind}"] / rates[f"enqueue_{kind}"]
        out.append(
            {
                **{k: first[k] for k in ("system", "version", "backend", "round")},
                "workload": f"ratio_{kind}",
                "send_per_enqueue": round(value, 3),
                "target": RATIO_TARGET,
            }
        )
    return out


#: The figure the median round is chosen by, per workload (default ``per_s``).
MAIN_FIGURE = {
    "latency": "p95_ms",
    "ratio_single": "send_per_enqueue",
    "ratio_batch": "send_per_enqueue",
}


def medians(records: list[Record]) -> list[Record]:
    """Per (backend, workload): the median round by its main figure, with the spread."""
    groups: dict[tuple[str, str], list[Record]] = {}
    for record in records:
        groups.setdefault((record["backend"], record["workload"]), []).append(record)
    out = []
    for group in groups.values():
        figure = MAIN_FIGURE.get(group[0]["workload"], "per_s")
        ordered = sorted(group, key=lambda r: r[figure])
        median = {**ordered[(len(ordered) - 1) // 2], "round": "median"}
        median["rounds"] = len(ordered)
        median["spread"] = [ordered[0][figure], ordered[-1][figure]]
        out.append(median)
    return out


# --------------------------------------------------------------------- summary


def summary(merged: list[Record]) -> str:
    """A markdown table of the medians, with the targets."""
    by = {(r["backend"], r["workload"]): r for r in merged}
    backends = sorted({r["backend"] for r in merged}, key=["sqlite", "postgres"].index)
    lines = [
        "| backend | send/s single | enqueue/s single | ratio | send/s batch "
        "| enqueue/s batch | ratio | latency p50 / p95 / p99 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for b in backends:
        lat = by[(b, "latency")]
        lines.append(
            f"| {b} | {by[(b, 'send_single')]['per_s']:,.0f} "
            f"| {by[(b, 'enqueue_single')]['per_s']:,.0f} "
            f"| {ratio_cell(by[(b, 'ratio_single')])} | {by[(b, 'send_batch')]['per_s']:,.0f} "
            f"| {by[(b, 'enqueue_batch')]['per_s']:,.0f} | {ratio_cell(by[(b, 'ratio_batch')])} "
            f"| {lat['p50_ms']:.2f} / {lat['p95_ms']:.2f} / {lat['p99_ms']:.2f} |"
        )
    lines.append(
        f"\nTargets: ratio >= {RATIO_TARGET} (both backends); PostgreSQL latency p95 <= "
        f"{P95_TARGET_MS} ms. Each cell is the median round (ratios: the median of the "
        "per-round ratios, with their range)."
    )
    return "\n".join(lines)


def ratio_cell(record: Record) -> str:
    """ "0.62 (0.55-0.70) ok" for a ratio record."""
    low, high = record["spread"]
    value = record["send_per_enqueue"]
    verdict = "ok" if value >= RATIO_TARGET else "MISSED"
    return f"{value:.2f} ({low:.2f}-{high:.2f}) {verdict}"


def parse_args() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (median kept)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for smoke tests")
    parser.add_argument(
        "--interval-ms", type=float, default=10.0, help="latency: one send every this many ms"
    )
    return parser.parse_args()


def main() -> int:
    """Run the rounds (backends alternating within each), print results and summary."""
    args = parse_args()
    os.environ.setdefault("COORD_LOG_LEVEL", "WARNING")
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    records: list[Record] = []
    for round_number in range(1, args.rounds + 1):
        for backend in backends:
            common.log(f"round {round_number} of {args.rounds}: {backend}")
            for record in run_round(backend, round_number, args):
                common.emit(record)
                records.append(record)
    merged = medians(records)
    for record in merged:
        common.emit(record)
    print("\n" + summary(merged), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
