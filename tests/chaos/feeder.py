"""An enqueuing process of the chaos tests: enqueues ``chaos.work`` tasks in paced
batches, through the SDK on the database or through ``coord server``'s REST API, and
records each acknowledged task as ``task_id n`` in an output file (fsynced once the
batch is acknowledged: a line means the caller was told the task is stored).

    python -m tests.chaos.feeder OUT FIRST COUNT --batch 20 --pause 0.1 [--api URL --key K]

Every task carries the idempotency key ``chaos:<n>``, so a batch whose answer was lost
(a timeout, a 503 from a busy database) is simply sent again until it is acknowledged,
as a careful producer would.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import coord
from tests.chaos import chaos_app

Enqueue = Callable[[list[dict[str, Any]], list[str | None]], list[str]]


def _sdk() -> tuple[Enqueue, Callable[[], None]]:
    app = chaos_app.build_app()  # COORD_DATABASE_URL

    def enqueue(payloads: list[dict[str, Any]], keys: list[str | None]) -> list[str]:
        return [h.id for h in app.enqueue_many(chaos_app.WORK, payloads, keys=keys)]

    return enqueue, app.close


def _api(url: str, key: str) -> tuple[Enqueue, Callable[[], None]]:
    client = coord.Client(url, key, timeout=60.0)

    def enqueue(payloads: list[dict[str, Any]], keys: list[str | None]) -> list[str]:
        return [e.id for e in client.tasks.enqueue_many(chaos_app.WORK, payloads, keys=keys)]

    return enqueue, client.close


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out")
    parser.add_argument("first", type=int)
    parser.add_argument("count", type=int)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--pause", type=float, default=0.1)
    parser.add_argument("--ms", type=float, nargs=2, default=(5.0, 30.0))
    parser.add_argument("--api")
    parser.add_argument("--key")
    args = parser.parse_args(argv)
    enqueue, close = _api(args.api, args.key) if args.api else _sdk()
    fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    retried = 0
    try:
        for start in range(args.first, args.first + args.count, args.batch):
            ns = range(start, min(start + args.batch, args.first + args.count))
            low, high = args.ms
            spread = [((n * 7919) % 100) / 100 for n in ns]  # handler sleeps, repeatable
            payloads = [
                {"n": n, "ms": round(low + (high - low) * f, 2), "step": True}
                for n, f in zip(ns, spread, strict=True)
            ]
            keys: list[str | None] = [f"chaos:{n}" for n in ns]
            while True:
                try:
                    ids = enqueue(payloads, keys)
                    break
                except coord.CoordError as exc:  # busy database, server timeout: send again
                    retried += 1
                    print(f"feeder: batch at {start} refused ({exc}); sending it again", flush=True)
                    time.sleep(0.2)
            os.write(fd, "".join(f"{i} {n}\n" for i, n in zip(ids, ns, strict=True)).encode())
            os.fsync(fd)
            time.sleep(args.pause)
    finally:
        os.close(fd)
        close()
    print(f"feeder: done, {args.count} tasks, {retried} batches sent again", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
