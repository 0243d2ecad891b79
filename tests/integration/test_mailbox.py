"""Agent mailboxes on both backends: agents, addressing, sequences, threads,
idempotency, refusals that store nothing, read/ack states, expiry and events."""

from __future__ import annotations

import time
import uuid

import pytest

import coord
from coord.domain.messages import DeliveryState


def make_agents(app: coord.App, *names: str) -> None:
    for name in names:
        app.add_agent(name, role="dev")


def total_messages(app: coord.App, *agents: str) -> int:
    return sum(len(app.store.mailbox_sequences(a)) for a in agents)


# -- agents -------------------------------------------------------------------------------
def test_agents_are_registered_listed_and_removed_keeping_their_messages(
    app: coord.App,
) -> None:
    app.add_agent("planner", role="lead", domains=["infra", "infra", "web"], description="plans")
    app.add_agent("ana", human=True)
    planner = app.get_agent("planner")
    assert (planner.role, planner.domains, planner.human) == ("lead", ["infra", "web"], False)
    assert app.get_agent("ana").human is True
    assert [a.name for a in app.list_agents()] == ["ana", "planner"]

    with pytest.raises(coord.Conflict, match="exists already"):
        app.add_agent("planner")
    with pytest.raises(coord.InvalidInput, match="invalid agent name"):
        app.add_agent("no spaces")
    with pytest.raises(coord.InvalidInput, match="reserved"):
        app.add_agent("all")

    first = app.send("planner", "ana", "before removal")
    app.remove_agent("ana")
    assert [a.name for a in app.list_agents()] == ["planner"]
    with pytest.raises(coord.NotFound, match="no agent 'ana'"):
        app.get_agent("ana")
    with pytest.raises(coord.NotFound, match="unknown recipient agent 'ana'"):
        app.send("planner", "ana", "after removal")
    with pytest.raises(coord.NotFound):
        app.remove_agent("ana")

    app.add_agent("ana", human=True)  # back, with its mailbox and its sequence
    again = app.send("planner", "ana", "after return")
    assert [(m.id, m.seq) for m in app.inbox("ana")] == [(first.id, 1), (again.id, 2)]


# -- addressing and order -------------------------------------------------------------------
def test_direct_messages_get_time_ordered_ids_and_a_gap_free_sequence(app: coord.App) -> None:
    make_agents(app, "coder", "reviewer")
    sent = [app.send("coder", "reviewer", f"change {i}", {"n": i}) for i in range(5)]
    ids = [s.id for s in sent]
    assert all(uuid.UUID(i).version == 7 for i in ids)
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert [s.recipients[0].seq for s in sent] == [1, 2, 3, 4, 5]
    inbox = app.inbox("reviewer")
    assert [m.id for m in inbox] == ids  # chronological: the order they were sent
    assert [m.body for m in inbox] == [{"n": i} for i in range(5)]
    assert all(m.state is DeliveryState.DELIVERED and m.sender == "coder" for m in inbox)
    assert app.inbox("coder") == []


def test_by_priority_lists_critical_first_and_filters_narrow_the_inbox(app: coord.App) -> None:
    make_agents(app, "a", "b", "me")
    low = app.send("a", "me", "low", priority="low")
    normal = app.send("b", "me", "normal")
    critical = app.send("a", "me", "critical", priority="critical")
    high = app.send("b", "me", "high", priority="high")
    assert [m.subject for m in app.inbox("me", by_priority=True)] == [
        "critical",
        "high",
        "normal",
        "low",
    ]
    assert [m.id for m in app.inbox("me", sender="a")] == [low.id, critical.id]
    app.read("me", normal.id)
    assert [m.id for m in app.inbox("me", unread=True)] == [low.id, critical.id, high.id]
    assert [m.id for m in app.inbox("me", limit=2)] == [low.id, normal.id]
    assert [m.id for m in app.inbox("me", after_seq=2)] == [critical.id, high.id]
    with pytest.raises(coord.InvalidInput, match="limit"):
        app.inbox("me", limit=0)
    with pytest.raises(coord.NotFound, match="no agent 'ghost'"):
        app.inbox("ghost")


def test_topics_reach_their_subscribers_and_all_reaches_everyone_but_the_sender(
    app: coord.App,
) -> None:
    make_agents(app, "security", "coder", "reviewer", "ops")
    assert app.subscribe("coder", "findings") is True
    assert app.subscribe("coder", "findings") is False
    app.subscribe("reviewer", "findings")
    app.subscribe("security", "findings")  # the sender does not get its own broadcast
    assert app.get_agent("coder").topics == ["findings"]

    finding = app.send("security", "topic:findings", "CVE in lib", priority="critical")
    assert sorted(r.agent for r in finding.recipients) == ["coder", "reviewer"]
    assert app.inbox("coder", topic="findings")[0].to == "topic:findings"
    assert app.inbox("ops") == []

    assert app.unsubscribe("reviewer", "findings") is True
    assert app.unsubscribe("reviewer", "findings") is False
    second = app.send("security", "topic:findings", "another")
    assert [r.agent for r in second.recipients] == ["coder"]

    everyone = app.send("ops", "all", "maintenance tonight")
    assert sorted(r.agent for r in everyone.recipients) == ["coder", "reviewer", "security"]
    nobody = app.send("ops", "topic:empty", "no subscribers")
    assert nobody.recipients == ()
    with pytest.raises(coord.InvalidInput, match="invalid topic"):
        app.subscribe("coder", "bad topic")


# -- threads ------------------------------------------------------------------------------
def test_replies_join_their_parents_thread(app: coord.App) -> None:
    make_agents(app, "coder", "reviewer", "lead")
    ask = app.send("coder", "reviewer", "review PR 7")
    answer = app.send("reviewer", "coder", "Re: review PR 7", "lgtm", reply_to=ask.id)
    escalate = app.send("coder", "lead", "merge?", thread=ask.thread_id)
    assert ask.thread_id == ask.id
    assert answer.thread_id == ask.id and escalate.thread_id == ask.id
    thread = app.thread(ask.id)
    assert [m.id for m in thread] == [ask.id, answer.id, escalate.id]
    assert thread[1].reply_to == ask.id
    assert [m.id for m in app.thread(answer.id)] == [m.id for m in thread]  # by a member
    assert [m.id for m in app.inbox("coder", thread=ask.id)] == [answer.id]

    other = app.send("coder", "reviewer", "unrelated")
    with pytest.raises(coord.InvalidInput, match="joins its parent's thread"):
        app.send("reviewer", "coder", "x", reply_to=ask.id, thread=other.id)
    with pytest.raises(coord.NotFound, match="no such message"):
        app.send("reviewer", "coder", "x", reply_to=str(uuid.uuid4()))
    with pytest.raises(coord.NotFound, match="no thread"):
        app.send("reviewer", "coder", "x", thread=str(uuid.uuid4()))
    with pytest.raises(coord.InvalidInput, match="not a message id"):
        app.thread("nope")
    assert len(app.inbox("coder")) == 1  # the refused replies stored nothing


# -- idempotency and refusals ---------------------------------------------------------------
def test_a_key_makes_a_send_idempotent(app: coord.App) -> None:
    make_agents(app, "coder", "reviewer")
    first = app.send("coder", "reviewer", "deploy", {"v": 1}, key="deploy-1")
    again = app.send("coder", "reviewer", "deploy", {"v": 1}, key="deploy-1")
    assert (again.id, again.created, first.created) == (first.id, False, True)
    assert again.recipients == first.recipients
    with pytest.raises(coord.IdempotencyConflict, match="deploy-1"):
        app.send("coder", "reviewer", "deploy", {"v": 2}, key="deploy-1")
    assert [m.id for m in app.inbox("reviewer")] == [first.id]
    other_sender = app.send("reviewer", "coder", "deploy", {"v": 1}, key="deploy-1")
    assert other_sender.created  # keys belong to their sender
    twice = [coord.Outgoing("coder", "reviewer", "x", key="k2")] * 2
    with pytest.raises(coord.InvalidInput, match="used twice in one batch"):
        app.send_many(twice)


@pytest.mark.parametrize(
    ("sender", "to", "subject", "body", "error", "match"),
    [
        ("ghost", "reviewer", "hi", None, coord.NotFound, "unknown sender agent 'ghost'"),
        ("coder", "ghost", "hi", None, coord.NotFound, "unknown recipient agent 'ghost'"),
        ("coder", "reviewer", "  ", None, coord.InvalidInput, "subject: must not be empty"),
        ("coder", "reviewer", "big", "x" * 2000, coord.InvalidInput, "over the limit of 1000"),
        ("coder", "topic:", "hi", None, coord.InvalidInput, "invalid topic"),
        ("coder", "reviewer", "hi", {1, 2}, coord.InvalidInput, "body: not JSON"),
    ],
)
def test_bad_sends_are_refused_and_store_nothing(
    app: coord.App,
    sender: str,
    to: str,
    subject: str,
    body: object,
    error: type[Exception],
    match: str,
) -> None:
    app.settings = app.settings.model_copy(update={"max_message_bytes": 1000})
    make_agents(app, "coder", "reviewer")
    with pytest.raises(error, match=match):
        app.send(sender, to, subject, body)
    assert total_messages(app, "coder", "reviewer") == 0
    with pytest.raises(coord.InvalidInput, match="priority"):
        app.send("coder", "reviewer", "hi", priority="urgent")


def test_a_batch_is_stored_whole_or_not_at_all(app: coord.App) -> None:
    make_agents(app, "a", "b")
    batch = [coord.Outgoing("a", "b", f"m{i}") for i in range(3)]
    with pytest.raises(coord.NotFound, match="ghost"):
        app.send_many([*batch, coord.Outgoing("a", "ghost", "bad")])
    assert total_messages(app, "a", "b") == 0
    results = app.send_many(batch)
    assert [r.recipients[0].seq for r in results] == [1, 2, 3]


# -- states, expiry and events --------------------------------------------------------------
def test_the_sender_sees_each_recipients_delivery_state(app: coord.App) -> None:
    make_agents(app, "lead", "coder", "reviewer")
    note = app.send("lead", "all", "standup at 10")
    assert app.read("coder", note.id).state is DeliveryState.READ
    app.read("coder", note.id)  # reading again changes nothing
    assert app.ack("reviewer", [note.id]) == [note.id]
    assert app.ack("reviewer", [note.id]) == []  # acknowledged once
    states = {d.agent: d.state for d in app.message(note.id).deliveries}
    assert states == {"coder": DeliveryState.READ, "reviewer": DeliveryState.ACKED}
    acked = next(d for d in app.message(note.id).deliveries if d.agent == "reviewer")
    assert acked.read_at is not None and acked.acked_at is not None

    with pytest.raises(coord.NotFound, match="has no message"):
        app.read("lead", note.id)  # the sender is not a recipient
    missing = str(uuid.uuid4())
    with pytest.raises(coord.NotFound, match=missing):
        app.ack("coder", [note.id, missing])
    assert app.message(note.id).deliveries[0].state is DeliveryState.READ  # nothing acked

    topics = [e.topic for e in app.message_events(note.id)]
    assert topics == [
        "message.sent",
        "message.delivered",
        "message.delivered",
        "message.read",
        "message.acked",
    ]


def test_expired_messages_leave_inboxes_and_are_recorded_as_expired(app: coord.App) -> None:
    make_agents(app, "a", "b")
    short = app.send("a", "b", "flash sale", ttl=0.3)
    lasting = app.send("a", "b", "contract", ttl="1h")
    assert {m.id for m in app.inbox("b")} == {short.id, lasting.id}
    time.sleep(0.5)
    # Whatever looks first sees it expired: reading, acknowledging, the sender's view.
    assert app.read("b", short.id).state is DeliveryState.EXPIRED
    assert app.ack("b", [short.id]) == []
    assert [m.id for m in app.inbox("b")] == [lasting.id]
    (delivery,) = app.message(short.id).deliveries
    assert delivery.state is DeliveryState.EXPIRED and delivery.expired_at is not None
    assert app.message(short.id).subject == "flash sale"  # kept, not deleted
    assert "message.expired" in [e.topic for e in app.message_events(short.id)]
    assert app.ack("b", [short.id]) == []  # an expired message cannot be acknowledged
    with pytest.raises(coord.InvalidInput, match="ttl"):
        app.send("a", "b", "x", ttl=0)
