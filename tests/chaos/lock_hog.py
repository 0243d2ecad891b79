"""A process that takes the write lock of a SQLite file now and then and holds it for a
while, as a long write of another program would (a backup, a bulk import, an admin
script in a transaction): every coord writer of the file waits meanwhile.

    python -m tests.chaos.lock_hog PATH HOLD EVERY SEED

lets go for ``EVERY`` seconds, then holds the lock ``HOLD`` seconds (each jittered by
+-25%, repeatable with ``SEED``), until killed; prints each hold.
"""

from __future__ import annotations

import random
import sqlite3
import sys
import time


def main() -> int:
    path, hold, every, seed = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    rng = random.Random(int(seed))
    conn = sqlite3.connect(path, timeout=60, isolation_level=None)
    while True:
        time.sleep(every * rng.uniform(0.75, 1.25))
        conn.execute("BEGIN IMMEDIATE")
        held = hold * rng.uniform(0.75, 1.25)
        time.sleep(held)
        conn.execute("COMMIT")
        print(f"lock_hog: held the write lock {held:.2f}s", flush=True)


if __name__ == "__main__":
    sys.exit(main())
