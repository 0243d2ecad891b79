"""One behaviour suite, two implementations of the surface (issue 14): the local one
(``coord.operations``' services over the database, acting as the caller's
principal, exactly as the API server does per request) and the remote one
(``coord.Client`` through a real ``coord server`` process), on SQLite and on
PostgreSQL. Each scenario runs on both faces, each with a database of its own
prepared alike; the answers, with ids and times normalized, must be equal, and
must be what a user expects. A difference between the faces is a failure."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter

import coord
from coord.app import connect
from coord.errors import CoordError
from coord.operations import Draft, EnqueueOptions, InboxQuery, Surface, TaskFilter
from coord.operations._sync.local import LocalSurface
from coord.services import auth
from coord.services import keys as key_service
from tests.acceptance.server_process import serving
from tests.conftest import create_database, drop_database

COORD = Path(sys.executable).parent / "coord"
AGENTS = {"alice": "agent", "bob": "agent", "vic": "viewer", "olga": "operator"}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TIMES = {"created_at", "run_at", "started_at", "finished_at", "heartbeat_at", "expires_at"}
TIMES |= {"lease_expires_at", "read_at", "acked_at", "delivered_at", "at", "oldest_due_age"}
TIMES |= {
    "last_seen_at",
    "removed_at",
    "updated_at",
    "first_seen",
    "last_seen",
    "id",
}  # event ids are per database


def declare(app: coord.App) -> None:
    """The tasks every prepared database knows."""

    @app.task(retries=0)
    async def work(ctx: coord.Context, n: int = 0) -> int:
        return n

    @app.task(retries=0)
    async def boom(ctx: coord.Context) -> None:
        raise coord.FatalError("boom: always")

    @app.task(retries=0)
    async def note(ctx: coord.Context) -> str:
        return await ctx.artifact("notes.md", "raw notes", tool="writer@1")

    gated = app.workflow("gated", description="build, then a person approves the ship")
    gated.phase("build", task="work")
    gated.phase("ship", task="work", after=["build"], gate={"approval": "human"})
    app.workflow("doomed").phase("a", task="boom")
    app.workflow("noted").phase("write", task=note)


def drain(prepared: Prepared) -> None:
    """Run every due task of the database, as a worker would (phases advance)."""
    app = coord.App(prepared.url)
    declare(app)
    with app:
        app.run_worker(burst=True)


@dataclass
class Prepared:
    """A database with the agents, their keys, and two dead tasks."""

    url: str
    keys: dict[str, str]
    dead: list[str]


def prepare(url: str) -> Prepared:
    if url.startswith("postgresql"):
        store = connect(coord.Settings(database_url=url), check_schema=False)
        store.upgrade()
        store.close()
    app = coord.App(url)
    declare(app)
    roles = auth.load_roles(None)
    keys = {}
    with app:
        for name, role in AGENTS.items():
            app.add_agent(name, role=role, human=name == "olga")
            created = key_service.create_key(
                app.store, agent=name, role=role, expires=None, roles=roles, actor="test"
            )
            keys[name] = created.key
        dead = [app.enqueue("boom").id, app.enqueue("boom").id]
        app.run_worker(burst=True)
    return Prepared(url, keys, dead)


Face = Callable[[str], Surface]  # agent name -> the surface as that agent


@contextmanager
def local_face(prepared: Prepared) -> Iterator[Face]:
    """The local surface as each agent: the same principal the server would make of
    the agent's key, over the same services."""
    app = coord.App(prepared.url)
    declare(app)
    roles = auth.load_roles(None)
    with app:

        def face(agent: str) -> Surface:
            principal = auth.authenticate(app.store, f"Bearer {prepared.keys[agent]}", roles)
            return LocalSurface(app.local_parts().acting_as(principal))

        yield face


@dataclass(frozen=True)
class Environment:
    """Starts ``coord`` with an environment of its own (see ``serving``)."""

    env: dict[str, str]

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [str(COORD), *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


@contextmanager
def remote_face(prepared: Prepared) -> Iterator[Face]:
    """``coord.Client`` as each agent, through a ``coord server`` process."""
    clients: list[coord.Client] = []
    with serving(Environment({**os.environ, "COORD_DATABASE_URL": prepared.url})) as url:

        def face(agent: str) -> Surface:
            client = coord.Client(url, prepared.keys[agent])
            clients.append(client)
            return client

        try:
            yield face
        finally:
            for client in clients:
                client.close()


# -- normalizing answers ----------------------------------------------------------------
class Ids:
    """Ids replaced by their order of first appearance, so two databases compare."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}

    def _named(self, found: re.Match[str]) -> str:
        return self.seen.setdefault(found.group(0), f"<id{len(self.seen)}>")

    def __call__(self, value: Any) -> Any:
        if isinstance(value, BaseModel):
            return self(value.model_dump(mode="json"))
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return self(TypeAdapter(type(value)).dump_python(value, mode="json"))
        if isinstance(value, dict):
            return {k: self(v) for k, v in value.items() if k not in TIMES}
        if isinstance(value, list | tuple):
            return [self(v) for v in value]
        if isinstance(value, str):
            return UUID.sub(
                lambda m: self.seen.setdefault(m.group(0), f"<id{len(self.seen)}>"), value
            )
        return value


def attempt(call: Callable[[], Any]) -> Any:
    """The answer, or the error as (class, code, field)."""
    try:
        return call()
    except CoordError as exc:
        return ("error", type(exc).__name__, exc.code, exc.data.get("field"))


# -- the scenarios ------------------------------------------------------------------------
UNKNOWN_ID = "0190f0f0-0000-7000-8000-000000000000"


def mail(face: Face, prepared: Prepared) -> list[Any]:
    a, b = face("alice"), face("bob")
    first = a.mail.send("bob", "hello", {"n": 1}, priority="high", key="k1")
    out: list[Any] = [first, a.mail.send("bob", "hello", {"n": 1}, priority="high", key="k1")]
    out.append(attempt(lambda: a.mail.send("bob", "other", key="k1")))
    out.append(b.mail.send("alice", "re", "fine", reply_to=first.id))
    many = a.mail.send_many([Draft("bob", f"n{i}", i, priority="low") for i in range(3)])
    out.append(many)
    out.append(b.mail.inbox())
    out.append(b.mail.inbox(None, InboxQuery(limit=2)))
    out.append(b.mail.inbox(None, InboxQuery(by_priority=True, limit=2)))
    out.append(b.mail.read(first.id))
    out.append(b.mail.inbox(None, InboxQuery(unread=True)))
    out.append(sorted(b.mail.ack([first.id, many[0].id])))
    out.append(b.mail.ack(first.id))
    out.append(a.mail.thread(first.thread_id))
    out.append(a.mail.message(first.id))
    out.append([e.topic for e in a.mail.message_events(first.id)])
    out.append(b.mail.take())
    out.append(attempt(lambda: a.mail.inbox("bob")))
    out.append(attempt(lambda: a.mail.send("bob", "as olga", sender="olga")))
    out.append(attempt(lambda: a.mail.send("bob", "x", priority="urgent")))
    out.append(attempt(lambda: a.mail.send("nobody", "x")))
    out.append(attempt(lambda: face("vic").mail.send("bob", "x")))
    out.append(attempt(lambda: a.mail.read(UNKNOWN_ID)))
    out.append(attempt(lambda: a.mail.message(UNKNOWN_ID)))
    return out


def inbox_after_seq(face: Face, prepared: Prepared) -> list[Any]:
    """Paging alice's mailbox by sequence number: only what is above after_seq."""
    a, b = face("alice"), face("bob")
    sent = [
        b.mail.send("alice", f"p{i}", i, priority="critical" if i == 2 else "normal")
        for i in range(3)
    ]
    seqs = [s.recipients[0].seq for s in sent]
    out: list[Any] = [[s - seqs[0] for s in seqs]]
    out.append(a.mail.inbox(None, InboxQuery(after_seq=seqs[0])))
    out.append(a.mail.inbox(None, InboxQuery(after_seq=seqs[0], limit=1)))
    out.append(a.mail.inbox(None, InboxQuery(after_seq=seqs[0] - 1, by_priority=True)))
    out.append(a.mail.inbox(None, InboxQuery(after_seq=seqs[2])))
    out.append(a.mail.inbox(None, InboxQuery(after_seq=0, limit=None)))
    page = a.mail.inbox_page(None, InboxQuery(after_seq=seqs[0] - 1, limit=1))
    out.append(
        [
            page.data,
            a.mail.inbox_page(
                None, InboxQuery(after_seq=seqs[0] - 1, limit=1), page.next_cursor
            ).data,
        ]
    )
    out.append(attempt(lambda: a.mail.inbox(None, InboxQuery(after_seq=-1))))
    return out


def agents(face: Face, prepared: Prepared) -> list[Any]:
    a, o = face("alice"), face("olga")
    out: list[Any] = [a.agents.me().agent, a.agents.me().role, sorted(a.agents.me().permissions)]
    out.append([x.name for x in a.agents.all()])
    out.append(a.agents.get("bob"))
    out += [a.agents.subscribe("news"), a.agents.subscribe("news"), a.agents.unsubscribe("news")]
    out.append(attempt(lambda: a.agents.subscribe("news", "bob")))
    out.append(o.agents.subscribe("news", "bob"))
    out.append(attempt(lambda: a.agents.get("nobody")))
    out.append(attempt(lambda: a.agents.add("carol")))
    out.append(o.agents.add("carol", description="joins late"))
    out.append(attempt(lambda: o.agents.add("carol")))
    out.append(attempt(lambda: o.agents.add("dave", domains=["payments"])))
    o.agents.remove("carol")
    out.append(attempt(lambda: a.agents.get("carol")))
    return out


def tasks(face: Face, prepared: Prepared) -> list[Any]:
    a, o = face("alice"), face("olga")
    high = EnqueueOptions(priority="high")
    first = a.tasks.enqueue("work", {"n": 2}, key="t1", options=high)
    out: list[Any] = [first, a.tasks.enqueue("work", {"n": 2}, key="t1", options=high)]
    out.append(attempt(lambda: a.tasks.enqueue("work", {"n": 3}, key="t1")))
    later = EnqueueOptions(delay="1h", queue="slow")
    batch = a.tasks.enqueue_many("work", [{"n": 3}, {"n": 4}], options=later)
    out.append(batch)
    out.append(a.tasks.get(first.id))
    out.append([e.topic for e in a.tasks.events(first.id)])
    out.append(a.tasks.find(TaskFilter(queue="slow")))
    out.append(a.tasks.find(TaskFilter(name="work", limit=1)))
    out.append(a.tasks.cancel(batch[0].id))
    out.append(attempt(lambda: a.tasks.cancel(batch[0].id)))
    out.append(attempt(lambda: a.tasks.retry(batch[0].id)))
    out.append(o.tasks.retry(batch[0].id))
    out.append([q.model_dump(exclude={"oldest_pending_age_s"}) for q in a.queues.stats()])
    out.append(attempt(lambda: a.tasks.enqueue("never-registered")))
    out.append(attempt(lambda: a.tasks.enqueue("agent:bob")))
    out.append(attempt(lambda: a.tasks.enqueue("work", {"n": float("nan")})))
    out.append(attempt(lambda: a.tasks.get(UNKNOWN_ID)))
    out.append(attempt(lambda: face("vic").tasks.enqueue("work")))
    return out


def dead_letters(face: Face, prepared: Prepared) -> list[Any]:
    a, o = face("alice"), face("olga")
    first, second = prepared.dead
    out: list[Any] = [a.dead_letters.groups()]
    out.append(attempt(lambda: a.dead_letters.retry(all=True)))
    out.append(attempt(o.dead_letters.retry))
    out.append(attempt(lambda: o.dead_letters.retry([first], all=True)))
    out.append(o.dead_letters.retry([first]))
    out.append(attempt(lambda: o.dead_letters.retry([first])))
    out.append(o.dead_letters.retry(all=True, reset_steps=True))
    out.append(o.dead_letters.groups())
    out.append([a.tasks.get(t).state for t in (first, second)])
    return out


def runs(face: Face, prepared: Prepared) -> list[Any]:
    """A gated run started, waited for, approved; signals; errors and their codes."""
    a, o = face("alice"), face("olga")
    out: list[Any] = [[w.name for w in a.runs.workflows()], a.runs.workflow("gated")]
    out.append(a.runs.plan("gated", {"n": 1}))
    handle = a.runs.start("gated", {"n": 1}, key="r1")
    out.append((handle.id, handle.created))
    again = a.runs.start("gated", {"n": 1}, key="r1")
    out.append((again.id, again.created))
    out.append(attempt(lambda: a.runs.start("gated", {"n": 2}, key="r1")))
    out.append(attempt(lambda: handle.wait(timeout=0.2)))  # no worker yet: still going
    drain(prepared)
    waiting = handle.wait(timeout=10)
    out.append(waiting)  # settled: ship awaits a person
    out.append(attempt(lambda: a.runs.handle(handle.id).approve("ship")))  # not a person
    out.append(attempt(lambda: o.runs.approve(handle.id, "build")))  # not waiting
    out.append(o.runs.handle(handle.id).approve("ship"))
    drain(prepared)
    out.append(handle.wait(timeout=10))
    out.append([e.topic for e in handle.events()])
    out.append(attempt(lambda: o.runs.approve(handle.id, "ship")))  # approved already
    out.append(attempt(handle.cancel))  # it ended
    out.append(a.runs.find(coord.RunFilter(workflow="gated")))
    return out


def run_signals(face: Face, prepared: Prepared) -> list[Any]:
    """Cancel, retry, reject, budgets and cost."""
    a, o = face("alice"), face("olga")
    cancelled = a.runs.start("gated")
    drain(prepared)
    out: list[Any] = [cancelled.wait(timeout=10).state, cancelled.cancel()]
    drain(prepared)
    out.append(cancelled.info())
    out.append(attempt(cancelled.pause))  # a cancelled run does not pause
    out.append(cancelled.retry())  # cancelled: again from the phase it stopped at
    drain(prepared)
    out.append(cancelled.wait(timeout=10))
    out.append(o.runs.reject(cancelled.id, "ship", "changelog missing"))
    drain(prepared)
    out.append(cancelled.wait(timeout=10))
    failed = a.runs.start("doomed")
    drain(prepared)
    out.append(failed.wait(timeout=10))
    out.append(failed.retry(from_phase="a"))
    out.append(attempt(lambda: failed.retry(from_phase="zzz")))
    drain(prepared)
    out.append(failed.wait(timeout=10).state)
    budgeted = a.runs.start("gated")
    out.append(o.runs.set_budget(budgeted.id, tokens=1000, usd=2.5))
    out.append(o.runs.handle(budgeted.id).set_budget(phase="build", tool_seconds=60))
    out.append(attempt(lambda: o.runs.set_budget(budgeted.id)))  # no limit given
    out.append(attempt(lambda: o.runs.set_budget(budgeted.id, tokens=-1)))
    out.append(attempt(lambda: a.runs.set_budget(budgeted.id, tokens=5)))  # an operator's
    out.append(budgeted.cost())
    out.append(budgeted.pause())
    out.append(attempt(budgeted.pause))
    out.append(budgeted.resume())
    return out


def run_artifacts(face: Face, prepared: Prepared) -> list[Any]:
    """Artifacts and the dossier, the same through either face."""
    a = face("alice")
    handle = a.runs.start("noted")
    drain(prepared)
    out: list[Any] = [handle.wait(timeout=10)]
    (found,) = handle.artifacts()
    out.append(found)
    out.append(a.runs.artifact(handle.id, found.digest))
    out.append(handle.artifact(found.digest))
    out.append(attempt(lambda: a.runs.artifact(handle.id, "sha256:" + "0" * 64)))
    out.append(attempt(lambda: a.runs.artifact(handle.id, "md5:abc")))
    dossier = handle.dossier()
    out.append(sorted(dossier.files))
    out.append(dossier.files["artifacts/write/notes.md"])
    out.append(json.loads(dossier.files["run.json"]))
    out.append(json.loads(dossier.files["artifacts.json"]))
    out.append([json.loads(e)["topic"] for e in dossier.files["events.jsonl"].splitlines()])
    out.append(a.runs.artifacts(a.runs.start("gated").id))  # none
    return out


def run_errors(face: Face, prepared: Prepared) -> list[Any]:
    """Unknown runs and workflows, bad input, and who may not."""
    a, v = face("alice"), face("vic")
    return [
        attempt(lambda: a.runs.get(UNKNOWN_ID)),
        attempt(lambda: a.runs.handle(UNKNOWN_ID).cancel()),
        attempt(lambda: a.runs.events(UNKNOWN_ID)),
        attempt(lambda: a.runs.artifacts(UNKNOWN_ID)),
        attempt(lambda: a.runs.dossier(UNKNOWN_ID)),
        attempt(lambda: a.runs.approve(UNKNOWN_ID, "ship")),
        attempt(lambda: a.runs.workflow("ghost")),
        attempt(lambda: a.runs.start("ghost")),
        attempt(lambda: a.runs.plan("ghost")),
        attempt(lambda: a.runs.start("gated", {"n": float("nan")})),
        attempt(lambda: a.runs.find(coord.RunFilter(limit=0))),
        attempt(lambda: v.runs.start("gated")),
        [r.workflow for r in v.runs.find(coord.RunFilter(limit=None))],
    ]


SCENARIOS = {
    "mail": mail,
    "inbox_after_seq": inbox_after_seq,
    "agents": agents,
    "tasks": tasks,
    "dead_letters": dead_letters,
    "runs": runs,
    "run_signals": run_signals,
    "run_artifacts": run_artifacts,
    "run_errors": run_errors,
}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def transcripts(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, dict[str, list[Any]]]]:
    """Every scenario's normalized answers, per face, on one backend."""
    urls = []
    if request.param == "sqlite":
        base = tmp_path_factory.mktemp("conformance")
        urls = [f"sqlite:///{base / 'local.db'}", f"sqlite:///{base / 'remote.db'}"]
    else:
        admin = request.getfixturevalue("postgres_server")
        urls = [create_database(admin), create_database(admin)]
    try:
        found: dict[str, dict[str, list[Any]]] = {}
        for name, open_face, url in zip(
            ("local", "remote"), (local_face, remote_face), urls, strict=True
        ):
            prepared = prepare(url)
            with open_face(prepared) as face:
                found[name] = {k: Ids()(run(face, prepared)) for k, run in SCENARIOS.items()}
        yield found
    finally:
        if request.param == "postgres":
            for url in urls:
                drop_database(request.getfixturevalue("postgres_server"), url)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_local_and_remote_answer_alike(
    transcripts: dict[str, dict[str, list[Any]]], scenario: str
) -> None:
    local, remote = transcripts["local"][scenario], transcripts["remote"][scenario]
    assert len(local) == len(remote)
    for step, (mine, theirs) in enumerate(zip(local, remote, strict=True)):
        assert mine == theirs, f"{scenario} step {step}: local {mine!r} != remote {theirs!r}"


def test_mail_does_what_users_expect(transcripts: dict[str, dict[str, list[Any]]]) -> None:
    out = transcripts["local"]["mail"]
    first, again, conflict = out[0], out[1], out[2]
    assert first["created"] is True and again == {**first, "created": False}
    assert first["recipients"] == [{"agent": "bob", "seq": 1}]
    assert tuple(conflict[:2]) == ("error", "IdempotencyConflict")
    inbox, two, urgent_first = out[5], out[6], out[7]
    assert [m["subject"] for m in inbox] == ["hello", "n0", "n1", "n2"]
    assert [m["subject"] for m in two] == ["hello", "n0"]
    assert [m["subject"] for m in urgent_first] == ["hello", "n0"]  # high before low
    assert [m["subject"] for m in out[9]] == ["n0", "n1", "n2"]  # unread after a read
    assert len(out[10]) == 2 and out[11] == []  # acked once
    assert [m["subject"] for m in out[12]] == ["hello", "re"]
    assert out[15]["subject"] == "n1"  # take: the next unread, oldest first
    errors = [tuple(e) for e in out[16:]]
    assert errors == [
        ("error", "Forbidden", "forbidden", None),
        ("error", "Forbidden", "forbidden", "sender"),
        ("error", "InvalidInput", "invalid_input", "priority"),
        ("error", "NotFound", "not_found", None),
        ("error", "Forbidden", "forbidden", None),
        ("error", "NotFound", "not_found", None),
        ("error", "NotFound", "not_found", None),
    ]


def test_inbox_after_seq_lists_only_what_is_newer(
    transcripts: dict[str, dict[str, list[Any]]],
) -> None:
    out = transcripts["local"]["inbox_after_seq"]
    assert out[0] == [0, 1, 2]  # one mailbox, consecutive sequence numbers

    def subjects(found: list[dict[str, Any]]) -> list[str]:
        return [m["subject"] for m in found]

    assert subjects(out[1]) == ["p1", "p2"]
    assert subjects(out[2]) == ["p1"]
    assert subjects(out[3]) == ["p2", "p0", "p1"]  # critical first, still above after_seq
    assert out[4] == []  # nothing above the newest
    assert subjects(out[5])[-3:] == ["p0", "p1", "p2"] and len(out[5]) > 3  # 0: from the start
    assert [subjects(p) for p in out[6]] == [["p0"], ["p1"]]  # a cursor pages on from after_seq
    assert tuple(out[7]) == ("error", "InvalidInput", "invalid_input", "after_seq")


def test_tasks_and_dead_letters_do_what_users_expect(
    transcripts: dict[str, dict[str, list[Any]]],
) -> None:
    out = transcripts["local"]["tasks"]
    assert out[0]["created"] is True and out[1]["created"] is False
    assert tuple(out[2][:2]) == ("error", "IdempotencyConflict")
    assert out[4]["priority"] == "high" and out[4]["payload"] == {"n": 2}
    assert out[5] == ["task.enqueued"]
    assert [t["queue"] for t in out[6]] == ["slow", "slow"] and len(out[7]) == 1
    assert out[8]["state"] == "cancelled"
    assert tuple(out[9][:2]) == ("error", "Conflict") and tuple(out[10][:2]) == (
        "error",
        "Forbidden",
    )
    assert out[11]["state"] == "pending"
    assert [tuple(e)[:2] for e in out[13:]] == [
        ("error", "UnknownTask"),
        ("error", "Forbidden"),
        ("error", "InvalidInput"),
        ("error", "NotFound"),
        ("error", "Forbidden"),
    ]
    dead = transcripts["local"]["dead_letters"]
    assert dead[0][0]["count"] == 2
    assert [tuple(e)[:2] for e in dead[1:4]] == [
        ("error", "Forbidden"),
        ("error", "InvalidInput"),
        ("error", "InvalidInput"),
    ]
    assert len(dead[4]) == 1 and tuple(dead[5][:2]) == ("error", "InvalidInput")
    assert len(dead[6]) == 1 and dead[7] == [] and dead[8] == ["pending", "pending"]


def _phase(run: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(p for p in run["phases"] if p["name"] == name)
    return found


def _phase_cost(cost: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(p for p in cost["phases"] if p["phase"] == name)
    return found


def _errors(items: list[Any]) -> list[tuple[Any, ...]]:
    return [tuple(e)[:2] for e in items]


def test_runs_do_what_users_expect(transcripts: dict[str, dict[str, list[Any]]]) -> None:
    out = transcripts["local"]["runs"]
    # (sorted: PostgreSQL's jsonb keeps a definition's phases in an order of its own)
    assert out[0] == ["doomed", "gated", "noted"] and sorted(out[1]["phases"]) == ["build", "ship"]
    assert out[2]["groups"] == [["build"], ["ship"]]
    assert out[3][1] is True and out[4] == [out[3][0], False]  # the key found the first
    assert _errors([out[5], out[6]]) == [("error", "IdempotencyConflict"), ("error", "WaitTimeout")]
    waiting = out[7]
    assert waiting["state"] == "running"
    assert _phase(waiting, "build")["state"] == "succeeded"
    assert _phase(waiting, "ship")["state"] == "awaiting_approval"
    # alice is no person; build waits for nobody; olga approves ship.
    assert _errors([out[8], out[9]]) == [("error", "Forbidden"), ("error", "Conflict")]
    assert _phase(out[10], "ship")["approval"] is not None
    done = out[11]
    assert done["state"] == "succeeded" and _phase(done, "ship")["state"] == "succeeded"
    topics = out[12]
    assert topics.index("phase.approval.requested") < topics.index("phase.approved")
    assert topics[-1] == "run.succeeded"
    assert _errors([out[13], out[14]]) == [("error", "Conflict"), ("error", "Conflict")]
    assert [r["state"] for r in out[15]] == ["succeeded"]


def test_run_signals_do_what_users_expect(transcripts: dict[str, dict[str, list[Any]]]) -> None:
    out = transcripts["local"]["run_signals"]
    assert out[0] == "running" and out[1]["state"] == "cancelled"
    assert out[2]["state"] == "cancelled" and _errors([out[3]]) == [("error", "Conflict")]
    retried = out[5]  # the retried run ran build's result again to the same gate
    assert out[4]["state"] == "running"
    assert _phase(retried, "ship")["state"] == "awaiting_approval"
    rejected = out[7]
    assert rejected["state"] == "failed" and rejected["detail"]["reason"] == "rejected"
    assert rejected["detail"]["detail"] == {"by": "olga", "reason": "changelog missing"}
    assert out[8]["state"] == "failed" and _phase(out[9], "a")["attempt"] == 2
    assert tuple(out[10][:2]) == ("error", "InvalidInput") and out[11] == "failed"
    assert out[12]["budget"] == {"tokens": 1000, "usd": 2.5}
    assert _phase(out[13], "build")["budget"] == {"tool_seconds": 60.0}
    assert [tuple(e) for e in out[14:17]] == [
        ("error", "InvalidInput", "invalid_input", "tokens"),
        ("error", "InvalidInput", "invalid_input", "tokens"),
        ("error", "Forbidden", "forbidden", None),
    ]
    assert _phase_cost(out[17], "build")["budget"] == {"tool_seconds": 60.0}
    assert out[18]["state"] == "paused" and tuple(out[19][:2]) == ("error", "Conflict")
    assert out[20]["state"] == "running"


def test_run_artifacts_do_what_users_expect(
    transcripts: dict[str, dict[str, list[Any]]],
) -> None:
    out = transcripts["local"]["run_artifacts"]
    assert out[0]["state"] == "succeeded"
    found = out[1]
    assert (found["phase"], found["name"], found["tool"], found["size"]) == (
        "write",
        "notes.md",
        "writer@1",
        9,
    )
    assert out[2] == out[3] == b"raw notes"
    assert [tuple(e) for e in out[4:6]] == [
        ("error", "NotFound", "not_found", None),
        ("error", "InvalidInput", "invalid_input", "digest"),
    ]
    assert out[6] == [
        "artifacts.json",
        "artifacts/write/notes.md",
        "cost.json",
        "events.jsonl",
        "gates.json",
        "run.json",
    ]
    assert out[7] == b"raw notes" and out[8]["state"] == "succeeded"
    assert out[9] == [found] and "artifact.stored" in out[10] and out[11] == []


def test_run_errors_carry_their_codes(transcripts: dict[str, dict[str, list[Any]]]) -> None:
    out = transcripts["local"]["run_errors"]
    assert [tuple(e) for e in out[:9]] == [("error", "NotFound", "not_found", None)] * 9
    assert [tuple(e) for e in out[9:12]] == [
        ("error", "InvalidInput", "invalid_input", "input.n"),
        ("error", "InvalidInput", "invalid_input", "limit"),
        ("error", "Forbidden", "forbidden", None),
    ]
    assert sorted(set(out[12])) == ["doomed", "gated", "noted"]  # a viewer reads them
