"""Agent mailboxes from the command line, driven as a user drives them: real ``coord``
processes in a working directory of their own, on SQLite and on PostgreSQL.

Two agents and a human exchange a thread, the human reads and acknowledges, and the
states per recipient show in ``coord inbox``, ``coord thread`` and ``coord message
get``; bad input fails naming the problem and stores nothing; a key makes a send
idempotent; ``coord inbox --follow`` streams what arrives after it started.
"""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.acceptance.harness import Templates, Workspace, is_task_id, stop

NO_SUCH_MESSAGE = "01a20000-0000-7000-8000-000000000000"


def _team(ws: Workspace) -> None:
    ws.ok("db", "upgrade")
    ws.ok("agent", "add", "coder", "--role", "code", "--domain", "python", "--domain", "sql")
    ws.ok("agent", "add", "reviewer", "--role", "review")
    ws.ok("agent", "add", "lead", "--human", "--description", "the human in the loop")


@pytest.fixture(params=["sqlite", "postgres"])
def team(
    request: pytest.FixtureRequest, tmp_path: Path, templates: Templates
) -> Iterator[Workspace]:
    """A database with two agents (coder, reviewer) and a human (lead) (a copy of a
    template made by these commands, see tests/acceptance/conftest.py)."""
    with templates.copy("team", request.param, tmp_path / "work", _team) as ws:
        yield ws


def send(ws: Workspace, *args: str, **kwargs: Any) -> str:
    """``coord send ARGS``; return the id it printed (its only output)."""
    out = ws.ok("send", *args, **kwargs).stdout
    assert out.count("\n") == 1 and is_task_id(out.strip()), out
    return out.strip()


def inbox(ws: Workspace, agent: str, *filters: str) -> list[dict[str, Any]]:
    """``coord inbox AGENT`` as data."""
    found = ws.data("inbox", agent, *filters)
    assert isinstance(found, list)
    return found


def states(message: dict[str, Any]) -> dict[str, str]:
    """A message's delivery state per recipient."""
    return {d["agent"]: d["state"] for d in message["deliveries"]}


# -- agents --------------------------------------------------------------------------
def test_agents_are_added_listed_shown_and_removed(team: Workspace) -> None:
    ws = team
    agents = {a["name"]: a for a in ws.data("agent", "list")}
    assert list(agents) == ["coder", "lead", "reviewer"]
    assert agents["coder"]["domains"] == ["python", "sql"] and agents["lead"]["human"] is True
    lead = ws.data("agent", "get", "lead")
    assert lead["description"] == "the human in the loop" and lead["role"] is None
    text = ws.ok("agent", "list").stdout.splitlines()
    assert text[0].split()[:3] == ["name", "role", "human"] and len(text) == 4
    assert "python,sql" in text[1]

    assert "exists already" in ws.fails("agent", "add", "coder").stderr
    assert "ghost" in ws.fails("agent", "get", "ghost").stderr
    assert "invalid agent name" in ws.fails("agent", "add", "no spaces").stderr
    assert "reserved" in ws.fails("agent", "add", "all").stderr

    assert ws.data("subscribe", "lead", "security")["changed"] is True
    assert "was subscribed" in ws.ok("subscribe", "lead", "security").stdout
    assert ws.data("agent", "get", "lead")["topics"] == ["security"]
    assert "ghost" in ws.fails("subscribe", "ghost", "security").stderr
    assert "invalid topic" in ws.fails("subscribe", "lead", "bad topic").stderr

    message_id = send(ws, "coder", "topic:security", "--subject", "eval() in x.py")
    assert ws.ok("agent", "remove", "lead").stdout.strip().startswith("removed agent lead")
    assert [a["name"] for a in ws.data("agent", "list")] == ["coder", "reviewer"]
    assert "no agent 'lead'" in ws.fails("agent", "remove", "lead").stderr
    assert states(ws.data("message", "get", message_id)) == {"lead": "delivered"}  # kept
    ws.ok("agent", "add", "lead", "--human")  # back again: its mailbox is as it was
    assert [m["id"] for m in inbox(ws, "lead")] == [message_id]
    assert ws.data("agent", "get", "lead")["topics"] == []  # subscriptions were dropped
    assert ws.data("unsubscribe", "lead", "security")["changed"] is False


# -- a thread between two agents and a human -----------------------------------------
def test_a_thread_shows_each_recipients_state(team: Workspace) -> None:
    ws = team
    ws.ok("subscribe", "lead", "reviews")
    request = send(ws, "coder", "reviewer", "--subject", "review x.py", "--json", '{"n": 1}')
    reply = ws.data(
        "send",
        "reviewer",
        "coder",
        "-s",
        "Re: review x.py",
        "--body",
        "two nits",
        "--reply-to",
        request,
    )
    assert reply["created"] is True and reply["thread_id"] == request
    assert reply["recipients"] == [{"agent": "coder", "seq": 1}]
    alert = send(
        ws,
        "reviewer",
        "topic:reviews",
        "--subject",
        "x.py needs a human",
        "--body-file",
        "-",
        "--priority",
        "high",
        "--reply-to",
        request,
        stdin="line one\nline two\n",
    )

    # the lead's inbox: one message, delivered, in the thread
    [entry] = inbox(ws, "lead")
    assert (entry["id"], entry["seq"], entry["state"]) == (alert, 1, "delivered")
    assert (entry["thread_id"], entry["priority"], entry["to"]) == (
        request,
        "high",
        "topic:reviews",
    )
    assert entry["body"] == "line one\nline two\n"  # a text body is a JSON string
    table = ws.ok("inbox", "lead").stdout.splitlines()
    assert table[0].split() == ["seq", "id", "from", "subject", "priority", "state", "time"]
    assert alert in table[1] and "x.py needs a human" in table[1] and "delivered" in table[1]

    # the human reads it (marked read once), then acknowledges it
    read = ws.data("read", "lead", alert)
    assert read["state"] == "read" and read["read_at"] and read["body"] == "line one\nline two\n"
    shown = ws.ok("read", "lead", alert).stdout
    assert "subject: x.py needs a human" in shown and "line one\nline two" in shown
    assert inbox(ws, "lead", "--unread") == []
    assert ws.data("message", "get", alert)["deliveries"][0]["state"] == "read"
    assert ws.data("ack", "lead", alert) == {"count": 1, "ids": [alert]}
    assert ws.data("ack", "lead", alert) == {"count": 0, "ids": []}  # acked already
    assert inbox(ws, "lead")[0]["state"] == "acked"

    # the coder reads the reply without acknowledging it
    assert ws.data("read", "coder", reply["id"])["body"] == "two nits"

    thread = ws.data("thread", request)
    assert [m["id"] for m in thread] == [request, reply["id"], alert]
    assert [states(m) for m in thread] == [
        {"reviewer": "delivered"},
        {"coder": "read"},
        {"lead": "acked"},
    ]
    assert thread[0]["body"] == {"n": 1} and thread[2]["reply_to"] == request
    assert ws.data("thread", alert) == thread  # any message id of the thread works
    text = ws.ok("thread", request).stdout
    for expected in ("3 message(s)", "reviewer: delivered", "coder: read", "lead: acked"):
        assert expected in text, text

    sender_view = ws.data("message", "get", alert)
    [delivery] = sender_view["deliveries"]
    assert delivery["state"] == "acked" and delivery["read_at"] and delivery["acked_at"]
    assert "lead" in ws.ok("message", "get", alert).stdout
    topics = [e["topic"] for e in ws.data("message", "events", alert)]
    assert topics == ["message.sent", "message.delivered", "message.read", "message.acked"]
    assert "message.acked" in ws.ok("message", "events", alert).stdout


def test_send_to_all_and_to_a_topic_without_subscribers(team: Workspace) -> None:
    ws = team
    broadcast = ws.data("send", "lead", "all", "--subject", "standup in 5")
    assert {r["agent"] for r in broadcast["recipients"]} == {"coder", "reviewer"}
    nobody = ws.run("send", "coder", "topic:empty", "--subject", "anyone?")
    assert nobody.returncode == 0 and is_task_id(nobody.stdout.strip())
    assert "no recipients" in nobody.stderr
    assert inbox(ws, "lead") == []


# -- bad input: a clear error, and nothing stored ------------------------------------
BAD_SENDS = [
    # (arguments, exit code, what the message must name)
    (["ghost", "reviewer", "-s", "hi"], 1, "unknown sender agent 'ghost'"),
    (["coder", "ghost", "-s", "hi"], 1, "unknown recipient agent 'ghost'"),
    (["coder", "reviewer", "-s", ""], 1, "subject"),
    (["coder", "reviewer", "-s", "   "], 1, "subject"),
    (["coder", "reviewer", "-s", "big", "--body", "x" * 100], 1, "COORD_MAX_MESSAGE_BYTES"),
    (["coder", "reviewer", "-s", "big", "--json", json.dumps(["y"] * 40)], 1, "over the limit"),
    (["coder", "reviewer", "-s", "bad", "--json", '{"n": '], 1, "not valid JSON"),
    (["coder", "reviewer", "-s", "two", "--body", "a", "--json", "1"], 2, "--json"),
    (["coder", "reviewer", "-s", "two", "--body", "a", "--body-file", "-"], 2, "--body-file"),
    (["coder", "reviewer", "-s", "file", "--body-file", "missing.txt"], 1, "missing.txt"),
    (["coder", "reviewer", "-s", "re", "--reply-to", NO_SUCH_MESSAGE], 1, "no such message"),
    (["coder", "reviewer", "-s", "re", "--reply-to", "nope"], 1, "not a message id"),
    (["coder", "reviewer", "-s", "p", "--priority", "urgent"], 2, "urgent"),
    (["coder", "reviewer", "-s", "t", "--ttl", "soon"], 2, "soon"),
    (["coder", "bad name", "-s", "hi"], 1, "invalid agent name"),
    (["coder", "reviewer"], 2, "--subject"),
]


def test_bad_sends_fail_naming_the_problem_and_store_nothing(team: Workspace) -> None:
    ws = team
    first = send(ws, "coder", "reviewer", "--subject", "before")
    before = {agent: inbox(ws, agent) for agent in ("coder", "reviewer", "lead")}
    small = {"COORD_MAX_MESSAGE_BYTES": "64"}
    for args, code, named in BAD_SENDS:
        result = ws.fails("send", *args, code=code, env=small)
        assert named in result.stderr, result.describe()
        if code == 1:
            assert "error:" in result.stderr, result.describe()
            as_json = ws.run("send", *args, "-o", "json", env=small)
            assert as_json.returncode == 1 and as_json.stdout == "", as_json.describe()
            assert as_json.error_json()["code"] in ("invalid_input", "not_found")
    after = {agent: inbox(ws, agent) for agent in ("coder", "reviewer", "lead")}
    assert after == before
    # the mailbox's sequence has no gap: nothing was delivered, even for a moment
    assert ws.data("send", "coder", "reviewer", "-s", "after")["recipients"] == [
        {"agent": "reviewer", "seq": 2}
    ]
    assert inbox(ws, "reviewer")[0]["id"] == first
    # at the limit is fine: the body is measured as JSON ("x" * 62 is 64 bytes)
    assert send(ws, "coder", "reviewer", "-s", "fits", "--body", "x" * 62, env=small)


UNKNOWN = [
    # (arguments, what the message must name)
    (["read", "lead", NO_SUCH_MESSAGE], "has no message"),
    (["read", "ghost", NO_SUCH_MESSAGE], "no agent 'ghost'"),
    (["ack", "lead", NO_SUCH_MESSAGE], "has no message"),
    (["ack", "lead", "nope"], "not a message id"),
    (["inbox", "ghost"], "no agent 'ghost'"),
    (["inbox", "lead", "--thread", "nope"], "not a message id"),
    (["thread", NO_SUCH_MESSAGE], "no thread or message"),
    (["message", "get", NO_SUCH_MESSAGE], "no message"),
    (["message", "events", NO_SUCH_MESSAGE], "no message"),
    (["agent", "get", "ghost"], "no agent 'ghost'"),
    (["subscribe", "ghost", "news"], "ghost"),
]


def test_unknown_agents_and_messages_fail_naming_them(team: Workspace) -> None:
    for args, named in UNKNOWN:
        assert named in team.fails(*args).stderr, args
        code = team.run(*args, "-o", "json").error_json()["code"]
        assert code in ("not_found", "invalid_input"), args


def test_ack_is_all_or_nothing(team: Workspace) -> None:
    ws = team
    mine = send(ws, "coder", "lead", "-s", "one")
    other = send(ws, "coder", "reviewer", "-s", "not the lead's")
    assert "has no message" in ws.fails("ack", "lead", mine, other).stderr
    assert inbox(ws, "lead")[0]["state"] == "delivered"
    assert ws.ok("ack", "lead", mine).stdout.strip() == "acknowledged 1 message(s)"


# -- idempotency ---------------------------------------------------------------------
def test_a_key_makes_a_send_idempotent(team: Workspace) -> None:
    ws = team
    args = ["coder", "reviewer", "-s", "review y.py", "--json", '{"file": "y.py"}', "--key", "y"]
    first = send(ws, *args)
    again = ws.ok("send", *args)
    assert again.stdout.strip() == first and "not sent again" in again.stderr
    as_json = ws.data("send", *args)
    assert (as_json["id"], as_json["created"]) == (first, False)
    assert as_json["recipients"] == [{"agent": "reviewer", "seq": 1}]
    changed = ["coder", "reviewer", "-s", "review z.py", "--key", "y"]
    conflict = ws.fails("send", *changed)
    assert "different message" in conflict.stderr and first in conflict.stderr
    error = ws.run("send", *changed, "-o", "json").error_json()
    assert error["code"] == "idempotency_conflict"
    assert [m["id"] for m in inbox(ws, "reviewer")] == [first]
    assert send(ws, "lead", "reviewer", "-s", "review y.py", "--key", "y") != first  # per sender


def test_inbox_after_seq_lists_only_messages_numbered_above_it(team: Workspace) -> None:
    ws = team
    for subject in ("one", "two", "three"):
        send(ws, "coder", "reviewer", "--subject", subject)
    seqs = [m["seq"] for m in inbox(ws, "reviewer")]
    assert len(seqs) == 3
    newer = inbox(ws, "reviewer", "--after-seq", str(seqs[0]))
    assert [m["subject"] for m in newer] == ["two", "three"]
    assert inbox(ws, "reviewer", "--after-seq", str(seqs[-1])) == []
    assert [m["subject"] for m in inbox(ws, "reviewer", "--after-seq", "0")] == [
        "one",
        "two",
        "three",
    ]


# -- following an inbox --------------------------------------------------------------
class Lines:
    """The lines a background process writes to one stream, read with a timeout."""

    def __init__(self, stream: Any) -> None:
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: Any) -> None:
        for text in stream:
            self._lines.put(text)

    def next(self, timeout: float = 20.0) -> str:
        """The next line (fails the test after ``timeout`` seconds)."""
        try:
            return self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no line within {timeout}s") from None

    def until(self, text: str, timeout: float = 20.0) -> str:
        """Skip lines up to the first one holding ``text``."""
        while text not in (found := self.next(timeout)):
            pass
        return found


def _follow(ws: Workspace, *args: str) -> tuple[subprocess.Popen[str], Lines]:
    proc = ws.popen("inbox", *args, "--follow")
    assert proc.stdout is not None
    return proc, Lines(proc.stdout)


def test_inbox_follow_streams_messages_sent_after_it_started(team: Workspace) -> None:
    ws = team
    old = send(ws, "coder", "reviewer", "-s", "already there")
    proc, out = _follow(ws, "reviewer", "--from", "coder", "-o", "json")
    assert proc.stderr is not None
    err = Lines(proc.stderr)
    try:
        assert json.loads(out.next())["id"] == old  # what was there: one object per line
        err.until("following reviewer's mailbox")  # it is polling now
        send(ws, "lead", "reviewer", "-s", "filtered out: not from coder")
        new = send(ws, "coder", "reviewer", "-s", "sent while following", "--body", "hi")
        streamed = json.loads(out.next())
        assert (streamed["id"], streamed["seq"], streamed["state"]) == (new, 3, "delivered")
        assert streamed["subject"] == "sent while following" and streamed["body"] == "hi"
        result = stop(proc, [signal.SIGTERM], timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert result.returncode == 0, result.describe()


def test_inbox_follow_prints_lines_for_people_and_exits_0_on_ctrl_c(team: Workspace) -> None:
    ws = team
    proc, out = _follow(ws, "lead")
    try:
        assert out.next().split() == ["seq", "id", "from", "subject", "priority", "state", "time"]
        ws.ok("subscribe", "lead", "news")
        # sent after the header was printed, so after the follower took its bearings
        new = send(ws, "coder", "topic:news", "-s", "breaking [news]")
        line = out.until(new)
        assert "breaking [news]" in line and "coder" in line and "delivered" in line
        result = stop(proc, [signal.SIGINT], timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert result.returncode == 0, result.describe()


# -- usage -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args",
    [
        ["agent"],
        ["agent", "add"],
        ["send", "coder"],
        ["inbox"],
        ["inbox", "lead", "--limit", "0"],
        ["read", "lead"],
        ["ack", "lead"],
        ["message"],
        ["subscribe", "lead"],
    ],
    ids=" ".join,
)
def test_bad_usage_exits_2(bare: Workspace, args: list[str]) -> None:
    result = bare.run(*args)
    assert result.returncode == 2, result.describe()
    assert not (bare.cwd / ".coord").exists()


@pytest.mark.parametrize(
    "args",
    [["agent", "list"], ["inbox", "lead"], ["send", "coder", "lead", "-s", "hi"]],
    ids=" ".join,
)
def test_a_missing_database_is_not_created(bare: Workspace, args: list[str]) -> None:
    assert "coord db upgrade" in bare.fails(*args).stderr
    assert not (bare.cwd / ".coord").exists()
