"""Receiving and handling messages on both backends: ``receive`` wakes on delivery,
``@app.agent`` handlers run per message (critical first, at least once, never again
after success, dead letters when they keep failing), and the plugin hooks run."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

import coord
from coord.domain.messages import DeliveryState
from coord.settings import load_settings
from tests.helpers import work_until


def other_app(app: coord.App) -> coord.App:
    """A second App on the same database: another 'process' as far as wake-ups go."""
    return coord.App(app.settings.database_url, settings=load_settings())


# -- receive --------------------------------------------------------------------------------
def test_receive_returns_as_soon_as_a_message_arrives_from_elsewhere(app: coord.App) -> None:
    app.add_agent("rx")
    app.add_agent("tx")
    sender = other_app(app)

    async def scenario() -> tuple[Any, float]:
        waiting = asyncio.create_task(app.receive("rx", timeout=10))
        await asyncio.sleep(0.3)  # the receiver is waiting, not polling
        sent_at = time.monotonic()
        await asyncio.to_thread(sender.send, "tx", "rx", "ping", {"n": 1})
        message = await waiting
        return message, time.monotonic() - sent_at

    try:
        message, waited = asyncio.run(scenario())
    finally:
        sender.close()
    assert message.subject == "ping" and message.body == {"n": 1}
    assert message.state is DeliveryState.READ
    assert waited < 0.9  # well before the 1 s safety poll: it was woken
    assert app.inbox("rx", unread=True) == []


def test_receive_times_out_with_none_and_two_receivers_never_share_a_message(
    app: coord.App,
) -> None:
    app.add_agent("rx")
    app.add_agent("tx")

    async def scenario() -> tuple[Any, list[Any]]:
        nothing = await app.receive("rx", timeout=0.2)
        for i in range(10):
            await app.send_async("tx", "rx", f"m{i}")
        got = await asyncio.gather(*(app.receive("rx", timeout=2) for _ in range(10)))
        return nothing, got

    nothing, got = asyncio.run(scenario())
    assert nothing is None
    assert sorted(m.subject for m in got) == sorted(f"m{i}" for i in range(10))


def test_receive_can_wait_for_one_topic(app: coord.App) -> None:
    for name in ("rx", "tx"):
        app.add_agent(name)
    app.subscribe("rx", "alerts")
    app.send("tx", "rx", "direct")

    async def scenario() -> Any:
        waiting = asyncio.create_task(app.receive("rx", "alerts", timeout=5))
        await asyncio.sleep(0.1)
        await app.send_async("tx", "topic:alerts", "fire")
        return await waiting

    message = asyncio.run(scenario())
    assert (message.subject, message.to) == ("fire", "topic:alerts")
    assert [m.subject for m in app.inbox("rx", unread=True)] == ["direct"]
    with pytest.raises(coord.NotFound):
        asyncio.run(app.receive("ghost", timeout=0.1))


# -- agent handlers -------------------------------------------------------------------------
def test_a_handler_runs_per_message_replies_in_the_thread_and_acks(app: coord.App) -> None:
    app.add_agent("coder")
    seen: list[str] = []

    @app.agent("reviewer", role="review")
    async def review(ctx: coord.AgentContext, message: coord.InboxMessage) -> str:
        seen.append(message.subject)
        await ctx.reply(body={"verdict": "lgtm", "for": message.body["pr"]})
        return "reviewed"

    asks = [app.send("coder", "reviewer", f"review PR {n}", {"pr": n}) for n in (1, 2)]
    assert app.get_agent("reviewer").role == "review"  # the handler registered its agent
    work_until(app, lambda: len(app.inbox("coder")) == 2)
    assert sorted(seen) == ["review PR 1", "review PR 2"]
    replies = {m.reply_to: m for m in app.inbox("coder")}
    for ask in asks:
        reply = replies[ask.id]
        assert reply.thread_id == ask.thread_id and reply.subject.startswith("Re: review PR")
        assert reply.sender == "reviewer"
        (delivery,) = app.message(ask.id).deliveries
        assert delivery.state is DeliveryState.ACKED


def test_critical_messages_are_handled_before_normal_ones_under_a_backlog(
    app: coord.App,
) -> None:
    app.add_agent("ops")
    handled: list[str] = []

    @app.agent("oncall", concurrency=1)
    async def oncall(ctx: coord.AgentContext, message: coord.InboxMessage) -> None:
        handled.append(message.priority)

    for i in range(12):
        app.send("ops", "oncall", f"routine {i}")
    for i in range(4):
        app.send("ops", "oncall", f"page {i}", priority="critical")
    app.send("ops", "oncall", "soon", priority="high")
    work_until(app, lambda: len(handled) == 17, concurrency=1)
    assert handled == ["critical"] * 4 + ["high"] + ["normal"] * 12


def test_messages_sent_before_the_handler_existed_are_handled_once(app: coord.App) -> None:
    app.add_agent("planner")
    app.add_agent("builder")
    early = [app.send("planner", "builder", f"job {i}") for i in range(3)]
    calls: list[str] = []

    handler_app = other_app(app)

    @handler_app.agent("builder")
    async def build(ctx: coord.AgentContext, message: coord.InboxMessage) -> None:
        calls.append(message.id)

    try:
        work_until(handler_app, lambda: len(calls) == 3)
        handler_app.store.register_policies(  # a second registration finds nothing new
            [d.policy for d in handler_app.registry.tasks.values()]
        )
        late = handler_app.send("planner", "builder", "job 3")
        work_until(handler_app, lambda: len(calls) == 4)
    finally:
        handler_app.close()
    assert sorted(calls) == sorted([m.id for m in early] + [late.id])


def test_a_failing_handler_ends_in_the_dead_letters_and_a_retry_does_not_resend(
    app: coord.App,
) -> None:
    app.add_agent("coder")
    attempts: list[int] = []

    @app.agent("flaky", retries=2, retry_backoff=0.05)
    async def flaky(ctx: coord.AgentContext, message: coord.InboxMessage) -> None:
        attempts.append(ctx.attempt)
        await ctx.reply(body="working on it")  # sent on every attempt, stored once
        raise RuntimeError(f"cannot handle {message.subject}")

    sent = app.send("coder", "flaky", "impossible")
    work_until(app, lambda: len(app.list_tasks(state=coord.TaskState.DEAD)) == 1)
    assert attempts == [1, 2, 3]
    (group,) = app.dead_letters.groups()
    assert group.error_message == "cannot handle impossible"
    assert [m.body for m in app.inbox("coder")] == ["working on it"]
    (delivery,) = app.message(sent.id).deliveries
    assert delivery.state is DeliveryState.READ  # not acknowledged


def test_handlers_must_be_async_and_named_validly(app: coord.App) -> None:
    with pytest.raises(coord.InvalidInput, match="async"):
        app.agent("sync")(lambda ctx, message: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(coord.InvalidInput, match="invalid agent name"):

        @app.agent("bad name")
        async def bad(ctx: coord.AgentContext, message: coord.InboxMessage) -> None: ...


# -- hooks ----------------------------------------------------------------------------------
class AuditPlugin:
    """A test plugin: records every message sent and received through its App, stamps
    outgoing bodies, and refuses messages to a quarantined agent."""

    def __init__(self, app: coord.App, quarantined: str) -> None:
        self.sent: list[str] = []
        self.received: list[tuple[str, str, str]] = []
        self.quarantined = quarantined
        self.lock = threading.Lock()
        app.on_message_sent(self.on_sent)
        app.on_message_received(self.on_received)

    async def on_sent(self, send: coord.MessageSend, call_next: Any) -> Any:
        for m in send.messages:
            if m.to.name == self.quarantined:
                raise coord.InvalidInput(f"{self.quarantined} is quarantined")
        results = await call_next(send)
        with self.lock:
            self.sent += [r.id for r in results]
        return results

    async def on_received(self, receipt: coord.MessageReceipt, call_next: Any) -> Any:
        with self.lock:
            self.received.append((receipt.via, receipt.agent, receipt.message.subject))
        return await call_next(receipt)


def test_plugin_hooks_run_around_sends_and_receipts(app: coord.App) -> None:
    plugin = AuditPlugin(app, quarantined="jail")
    for name in ("coder", "rx", "jail"):
        app.add_agent(name)

    @app.agent("reviewer")
    async def review(ctx: coord.AgentContext, message: coord.InboxMessage) -> None:
        await ctx.reply("thanks")

    first = app.send("coder", "rx", "hello")
    with pytest.raises(coord.InvalidInput, match="quarantined"):
        app.send("coder", "jail", "let me out")
    assert app.inbox("jail") == []
    ask = app.send("coder", "reviewer", "review")
    work_until(app, lambda: len(app.inbox("coder")) == 1)
    received = asyncio.run(app.receive("rx", timeout=2))
    assert received.id == first.id
    reply = app.inbox("coder")[0]
    assert plugin.sent == [first.id, ask.id, reply.id]
    assert plugin.received == [("handler", "reviewer", "review"), ("receive", "rx", "hello")]


def test_a_message_that_expired_before_its_handler_ran_is_never_handled(
    app: coord.App,
) -> None:
    app.add_agent("ops")
    handled: list[str] = []

    @app.agent("rx")
    async def rx(ctx: coord.AgentContext, message: coord.InboxMessage) -> None:
        handled.append(message.subject)

    app.send("ops", "rx", "short-lived", ttl=0.2)
    time.sleep(0.4)  # no worker yet, and no inbox read has swept it
    work_until(app, lambda: app.list_tasks(state=coord.TaskState.SUCCEEDED) != [])
    assert handled == []
    (task,) = app.list_tasks(state=coord.TaskState.SUCCEEDED)
    assert task.result == {"skipped": "expired"}
