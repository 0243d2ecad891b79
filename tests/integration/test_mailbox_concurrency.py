"""Many processes sending at once (both backends): every message gets its own id, and
every mailbox a gap-free sequence in the order each sender sent."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections import defaultdict

import coord

PROCESSES = 4
PER_PROCESS = 2500
BATCH = 25
RECIPIENTS = ("r0", "r1", "r2")

SENDER = """
import sys
import coord
url, me, count, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
recipients = sys.argv[5].split(",")
app = coord.App(url)
n = 0
while n < count:
    chunk = []
    for _ in range(min(batch, count - n)):
        chunk.append(coord.Outgoing(me, recipients[n % len(recipients)], f"m{n}", {"n": n}))
        n += 1
    app.send_many(chunk)
app.close()
"""


def test_concurrent_senders_get_distinct_ids_and_gap_free_sequences(app: coord.App) -> None:
    senders = [f"s{p}" for p in range(PROCESSES)]
    for name in (*senders, *RECIPIENTS):
        app.add_agent(name)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                SENDER,
                app.settings.database_url,
                sender,
                str(PER_PROCESS),
                str(BATCH),
                ",".join(RECIPIENTS),
            ],
            stderr=subprocess.PIPE,
            text=True,
        )
        for sender in senders
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err

    ids: list[str] = []
    for agent in RECIPIENTS:
        inbox = app.inbox(agent, limit=10_000)
        seqs = [m.seq for m in inbox]
        assert seqs == list(range(1, len(inbox) + 1))  # gap-free, in inbox order
        assert app.store.mailbox_sequences(agent) == seqs
        per_sender: dict[str, list[int]] = defaultdict(list)
        for m in inbox:
            per_sender[m.sender].append(m.body["n"])
        for numbers in per_sender.values():  # each sender's messages in the order sent
            assert numbers == sorted(numbers)
        ids += [m.id for m in inbox]
    assert len(ids) == PROCESSES * PER_PROCESS
    assert len(set(ids)) == len(ids)
    assert all(uuid.UUID(i).version == 7 for i in ids)
