"""References to what the caller may not see answer exactly as unknown ids do.

A message body may name a parent (``reply_to``) or a thread (``thread_id``); a path
may name a message, a thread or a run. When the caller (the sender, for a send) may
not read the object, the answer is the 404 an id that exists nowhere gets, byte for
byte, so no answer tells whether someone else's object exists. Refused sends write
nothing: no message in the thread, no event.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.api.harness import Api, running_api
from tests.helpers import mailbox_rows


def _send(api: Api, agent: str, **body: Any) -> Any:
    return api.call(agent, "POST", "/api/v1/messages", json={"subject": "s", **body})


def _message(api: Api, sender: str, to: str) -> str:
    answer = _send(api, sender, to=to)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _same(foreign: Any, unknown: Any, foreign_id: str, unknown_id: str) -> None:
    """Two answers identical once the id each one names is swapped for a mark."""
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.headers["content-type"] == unknown.headers["content-type"]
    assert foreign.headers["content-type"] == "application/problem+json"
    assert foreign.text.replace(foreign_id, "ID") == unknown.text.replace(unknown_id, "ID")
    assert foreign_id in foreign.text  # it names what was asked, as an unknown id does


def _history(api: Api, thread: str, database_url: str) -> tuple[list[str], Any]:
    """The ids of a thread, and how many messages, deliveries and events exist."""
    messages = api.call("root", "GET", f"/api/v1/threads/{thread}").json()["data"]
    return [m["id"] for m in messages], mailbox_rows(database_url)


@pytest.mark.parametrize("field", ["reply_to", "thread_id"])
def test_a_foreign_reference_answers_as_an_unknown_one(
    api: Api, database_url: str, field: str
) -> None:
    foreign = _message(api, "bob", "hugo")  # bob -> hugo: alice neither sent nor got it
    unknown = str(uuid.uuid4())
    before = _history(api, foreign, database_url)

    refused = _send(api, "alice", to="bob", **{field: foreign})
    missing = _send(api, "alice", to="bob", **{field: unknown})

    _same(refused, missing, foreign, unknown)
    assert _history(api, foreign, database_url) == before  # nothing joined the thread, no event


@pytest.mark.parametrize("field", ["reply_to", "thread_id"])
def test_a_batch_with_one_foreign_reference_writes_nothing(
    api: Api, database_url: str, field: str
) -> None:
    foreign = _message(api, "bob", "hugo")
    unknown = str(uuid.uuid4())
    before = _history(api, foreign, database_url)
    bob_inbox = api.call("bob", "GET", "/api/v1/agents/bob/inbox").json()["data"]

    def batch(ref: str) -> Any:
        messages = [{"to": "bob", "subject": "fine"}, {"to": "bob", "subject": "x", field: ref}]
        return api.call("alice", "POST", "/api/v1/messages/batch", json={"messages": messages})

    _same(batch(foreign), batch(unknown), foreign, unknown)
    assert _history(api, foreign, database_url) == before
    assert api.call("bob", "GET", "/api/v1/agents/bob/inbox").json()["data"] == bob_inbox


@pytest.mark.parametrize("field", ["reply_to", "thread_id"])
def test_own_and_received_references_join_the_thread(
    api: Api, database_url: str, field: str
) -> None:
    received = _message(api, "bob", "alice")  # alice got it
    sent = _message(api, "alice", "hugo")  # alice sent it
    for root in (received, sent):
        answer = _send(api, "alice", to="bob", **{field: root})
        assert answer.status_code == 201, answer.text
        assert answer.json()["thread_id"] == root
        assert answer.json()["id"] in _history(api, root, database_url)[0]


def test_a_topic_delivery_may_be_answered(api: Api) -> None:
    assert api.call("alice", "PUT", "/api/v1/agents/alice/topics/news").status_code == 200
    news = _message(api, "bob", "topic:news")
    answer = _send(api, "alice", to="bob", reply_to=news)
    assert answer.status_code == 201, answer.text
    assert answer.json()["thread_id"] == news


def test_a_message_of_someone_elses_thread_is_no_thread_to_show(api: Api) -> None:
    # alice is a party of the thread's first message, not of bob's reply to hugo:
    # asking for the thread by that reply's id answers as an unknown id does.
    root = _message(api, "alice", "bob")
    reply = _send(api, "bob", to="hugo", reply_to=root).json()["id"]
    unknown = str(uuid.uuid4())
    shown = api.call("alice", "GET", f"/api/v1/threads/{root}")
    assert [m["id"] for m in shown.json()["data"]] == [root]
    _same(
        api.call("alice", "GET", f"/api/v1/threads/{reply}"),
        api.call("alice", "GET", f"/api/v1/threads/{unknown}"),
        reply,
        unknown,
    )


def test_an_id_spelled_otherwise_answers_alike(api: Api) -> None:
    # A message id is a UUID in any case; the 404 must not tell a foreign id apart
    # by how it spells the id back.
    foreign = _message(api, "bob", "hugo").upper()
    unknown = str(uuid.uuid4()).upper()
    for path in ("/api/v1/messages/{}", "/api/v1/messages/{}/events", "/api/v1/threads/{}"):
        _same(
            api.call("alice", "GET", path.format(foreign)),
            api.call("alice", "GET", path.format(unknown)),
            foreign,
            unknown,
        )


def test_someone_elses_message_id_reads_and_acks_as_unknown(api: Api) -> None:
    foreign = _message(api, "bob", "hugo")
    unknown = str(uuid.uuid4())
    read = "/api/v1/agents/alice/inbox/{}/read"
    _same(
        api.call("alice", "POST", read.format(foreign)),
        api.call("alice", "POST", read.format(unknown)),
        foreign,
        unknown,
    )
    ack = "/api/v1/agents/alice/inbox/ack"
    _same(
        api.call("alice", "POST", ack, json={"ids": [foreign]}),
        api.call("alice", "POST", ack, json={"ids": [unknown]}),
        foreign,
        unknown,
    )


@pytest.mark.parametrize("path", ["/api/v1/messages/{}", "/api/v1/threads/{}"])
def test_a_caller_without_mailbox_rights_learns_nothing_from_an_id(api: Api, path: str) -> None:
    # vic (viewer) may read no mailbox: an existing id and an unknown one get the same
    # refusal, decided before anything is looked up.
    existing = _message(api, "bob", "hugo")
    unknown = str(uuid.uuid4())
    seen = api.call("vic", "GET", path.format(existing))
    missing = api.call("vic", "GET", path.format(unknown))
    assert seen.status_code == missing.status_code == 403
    assert seen.text == missing.text


@pytest.fixture
def gated(database_url: str, tmp_path: Any) -> Any:
    """A server whose workflow ``flow`` needs the authority domain ``release``:
    alice (an agent, no domain) may not see its runs; olga (operator, ``*``) may.
    hugo (human) may enqueue tasks but not read them."""
    rbac = tmp_path / "roles.yaml"
    rbac.write_text(
        (
            "roles:\n"
            "  admin: {permissions: [admin], authority_domains: ['*']}\n"
            "  operator: {permissions: [read_runs, start_run, control_runs, read_events,"
            " read_agents, read_own_inbox, send_message], authority_domains: ['*']}\n"
            "  agent: {permissions: [read_runs, start_run, read_events, read_agents,"
            " read_own_inbox, send_message, enqueue_task, read_tasks],"
            " authority_domains: []}\n"
            "  human: {permissions: [read_runs, enqueue_task], authority_domains: []}\n"
            "  viewer: {permissions: [read_agents], authority_domains: []}\n"
            "  auditor: {permissions: [read_audit], authority_domains: []}\n"
            "requirements:\n"
            "  workflows: {flow: release}\n"
        ),
        encoding="utf-8",
    )
    with running_api(database_url, rbac_file=str(rbac)) as running:
        yield running


@pytest.mark.parametrize(
    "path", ["/api/v1/runs/{}", "/api/v1/runs/{}/events", "/api/v1/events/list?run={}"]
)
def test_a_run_in_a_domain_the_caller_lacks_answers_as_unknown(gated: Api, path: str) -> None:
    started = gated.call("olga", "POST", "/api/v1/runs", json={"workflow": "flow"})
    assert started.status_code == 201, started.text
    run = started.json()["id"]
    unknown = str(uuid.uuid4())
    assert gated.call("olga", "GET", path.format(run)).status_code == 200
    _same(
        gated.call("alice", "GET", path.format(run)),
        gated.call("alice", "GET", path.format(unknown)),
        run,
        unknown,
    )


def test_a_run_is_no_oracle_for_a_caller_without_read_runs(gated: Api) -> None:
    started = gated.call("olga", "POST", "/api/v1/runs", json={"workflow": "flow"})
    run = started.json()["id"]
    seen = gated.call("vic", "GET", f"/api/v1/runs/{run}")
    missing = gated.call("vic", "GET", f"/api/v1/runs/{uuid.uuid4()}")
    assert seen.status_code == missing.status_code == 403
    assert seen.text == missing.text


def test_a_task_the_caller_may_not_read_cancels_as_unknown(gated: Api) -> None:
    enqueued = gated.call("alice", "POST", "/api/v1/tasks", json={"task": "work"})
    assert enqueued.status_code == 201, enqueued.text
    task = enqueued.json()["id"]
    unknown = str(uuid.uuid4())
    _same(
        gated.call("hugo", "POST", f"/api/v1/tasks/{task}/cancel"),
        gated.call("hugo", "POST", f"/api/v1/tasks/{unknown}/cancel"),
        task,
        unknown,
    )
    assert gated.call("alice", "GET", f"/api/v1/tasks/{task}").json()["state"] == "pending"
    # bob (an agent) may read tasks: he is told why he may not cancel alice's.
    assert gated.call("bob", "POST", f"/api/v1/tasks/{task}/cancel").status_code == 403
