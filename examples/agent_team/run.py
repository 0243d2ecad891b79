"""coord agent team: a coder, a reviewer and a security agent coordinate by messages,
and a human lead gets what matters.

    .venv/bin/python examples/agent_team/run.py [--files N]

The coder agent asks the reviewer to review each of N modules of the standard library
(one message per file, keyed so a second run sends nothing again). The reviewer is an
``@app.agent`` handler run by a worker: it reads the file, replies in the thread with
its findings, and when a file calls ``eval`` or ``exec`` it broadcasts a critical
finding to ``topic:security``, which the security agent and the human lead follow.
The lead reads the critical findings first and acknowledges them. Everything lives in
the embedded database (``.coord/coord.db``), so ``coord inbox lead`` and
``coord thread ID`` show it afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sysconfig
from pathlib import Path

import coord

app = coord.App()
RISKY = re.compile(r"\b(eval|exec)\(")


@app.agent("reviewer", role="review", concurrency=2, retries=2)
async def review(ctx: coord.AgentContext, message: coord.InboxMessage) -> dict[str, int]:
    """Review one file: count long lines and TODOs; report risky calls to security."""
    path = Path(message.body["path"])
    text = await asyncio.to_thread(path.read_text, encoding="utf-8", errors="replace")
    lines = text.splitlines()
    findings = {
        "lines": len(lines),
        "long_lines": sum(len(line) > 99 for line in lines),
        "todos": sum("TODO" in line for line in lines),
        "risky_calls": sum(bool(RISKY.search(line)) for line in lines),
    }
    await ctx.reply(body=findings)
    if findings["risky_calls"]:
        await ctx.send(
            "topic:security",
            f"{path.name} calls eval/exec {findings['risky_calls']} time(s)",
            {"path": str(path), "thread": message.thread_id},
            priority="critical",
        )
    return findings


def setup() -> None:
    """Register the team (once) and the lead's subscriptions."""
    existing = {a.name for a in app.list_agents()}
    for name, role, human in [
        ("coder", "code", False),
        ("security", "security", False),
        ("lead", "lead", True),
    ]:
        if name not in existing:
            app.add_agent(name, role=role, human=human)
    for follower in ("security", "lead"):
        app.subscribe(follower, "security")


def request_reviews(count: int) -> list[coord.SendResult]:
    """The coder asks for one review per file, in one batch (keyed: sent once)."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(stdlib.glob("*.py"))[:count]
    return app.send_many(
        [
            coord.Outgoing(
                "coder", "reviewer", f"review {f.name}", {"path": str(f)}, key=f"review:{f.name}"
            )
            for f in files
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=40, help="how many modules to review")
    args = parser.parse_args()
    setup()
    requests = request_reviews(args.files)
    print(f"coder asked for {len(requests)} reviews ({sum(r.created for r in requests)} new)")
    asyncio.run(app.run_worker_async(burst=True))  # the reviewer handles its inbox

    replies = app.inbox("coder", sender="reviewer", limit=10_000)
    print(f"reviewer replied {len(replies)} times in the review threads")
    alerts = app.inbox("lead", unread=True, by_priority=True, limit=10_000)
    print(f"lead has {len(alerts)} unread security alert(s), critical first:")
    for alert in alerts:
        print(f"  [{alert.priority}] {alert.subject}")
    if alerts:
        acked = app.ack("lead", [a.id for a in alerts])
        print(f"lead acknowledged {len(acked)} alert(s)")
    sample = requests[0].thread_id if requests else None
    if sample:
        thread = app.thread(sample)
        states = ", ".join(f"{d.agent}: {d.state.value}" for d in thread[0].deliveries)
        print(f"thread {sample}: {len(thread)} messages; first delivered to {states}")
    app.close()


if __name__ == "__main__":
    main()
