"""``coord send --reply-to/--thread`` naming a message or thread the sender may not
read fails exactly as an unknown id does: the same exit code, the same stderr (text
and ``-o json``), and nothing is sent. Both backends, locally and through a server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.acceptance.harness import Result, Templates, Workspace
from tests.acceptance.server_process import keyed_agent, serving


def _same(foreign: Result, unknown: Result, fid: str, uid: str) -> None:
    assert foreign.returncode == unknown.returncode == 1
    assert foreign.stdout == unknown.stdout == ""
    assert foreign.stderr.replace(fid, "ID") == unknown.stderr.replace(uid, "ID")
    assert fid in foreign.stderr


def _mailboxes(ws: Workspace) -> None:
    ws.ok("db", "upgrade")
    for name in ("alice", "bob", "hugo"):
        ws.ok("agent", "add", name)


@pytest.fixture(params=["sqlite", "postgres"])
def mailboxes(
    request: pytest.FixtureRequest, tmp_path: Path, templates: Templates
) -> Iterator[Workspace]:
    """Three agents (a copy of a template made by these commands)."""
    with templates.copy("mailboxes", request.param, tmp_path / "work", _mailboxes) as ws:
        yield ws


@pytest.mark.parametrize("option", ["--reply-to", "--thread"])
def test_send_refuses_a_foreign_reference_as_an_unknown_one(
    mailboxes: Workspace, option: str
) -> None:
    ws = mailboxes
    foreign = ws.data("send", "bob", "hugo", "-s", "private")["id"]
    unknown = str(uuid.uuid4())
    for output in ("text", "json"):
        refused = ws.run("send", "alice", "bob", "-s", "x", option, foreign, "-o", output)
        missing = ws.run("send", "alice", "bob", "-s", "x", option, unknown, "-o", output)
        _same(refused, missing, foreign, unknown)
    assert [m["id"] for m in ws.data("thread", foreign)] == [foreign]
    assert ws.data("inbox", "bob") == []


@pytest.mark.parametrize("option", ["--reply-to", "--thread"])
def test_send_joins_a_thread_the_sender_is_a_party_of(mailboxes: Workspace, option: str) -> None:
    ws = mailboxes
    received = ws.data("send", "bob", "alice", "-s", "question")["id"]
    sent = ws.data("send", "alice", "hugo", "-s", "note")["id"]
    for root in (received, sent):
        joined = ws.data("send", "alice", "bob", "-s", "re", option, root)
        assert joined["thread_id"] == root


@pytest.fixture
def server(mailboxes: Workspace, tmp_path: Path) -> Iterator[tuple[Workspace, dict[str, str]]]:
    """The mailboxes behind a running server, and a directory elsewhere (no database)
    whose commands go to it with the key of carol (an agent)."""
    key = keyed_agent(mailboxes, "carol", "agent")
    with serving(mailboxes) as url:
        here = Workspace(tmp_path / "elsewhere", "sqlite")
        yield here, {"COORD_API_URL": url, "COORD_API_KEY": key}


def test_remote_send_refuses_a_foreign_reference_as_an_unknown_one(
    mailboxes: Workspace, server: tuple[Workspace, dict[str, str]]
) -> None:
    here, env = server
    foreign = mailboxes.data("send", "bob", "hugo", "-s", "private")["id"]
    unknown = str(uuid.uuid4())
    for option in ("--reply-to", "--thread"):
        args = ("send", "carol", "bob", "-s", "x", option)
        _same(
            here.run(*args, foreign, env=env),
            here.run(*args, unknown, env=env),
            foreign,
            unknown,
        )
    assert [m["id"] for m in mailboxes.data("thread", foreign)] == [foreign]
