"""Both stores write the events :mod:`coord.storage.rows.events` builds: the same
topic, actor, refs and data, including where PostgreSQL fills a template in SQL (a
claim's attempt, the message of a delivery it changed, a cancelled task)."""

from __future__ import annotations

import time
from typing import Any

import coord
from coord.domain import codec
from coord.domain.tasks import Renewal
from coord.domain.views import EventInfo
from coord.storage.rows import events as ev


def _same(found: EventInfo, built: ev.Event) -> None:
    want: dict[str, Any] = {
        "topic": built.topic,
        "actor": built.actor,
        "data": None if built.data is None else codec.loads(built.data),
    }
    got: dict[str, Any] = {"topic": found.topic, "actor": found.actor, "data": found.data}
    assert got == want
    if built.task_id is not None:
        assert found.task_id == built.task_id
    if built.message_id is not None:
        assert found.message_id == built.message_id


def _noop(app: coord.App) -> coord.TaskDefinition:
    @app.task()
    async def noop(ctx: coord.Context, n: int = 0) -> int:
        return n

    return noop


def _events(app: coord.App, task_id: str) -> dict[str, EventInfo]:
    return {e.topic: e for e in app.store.task_events(task_id)}


def test_task_events_are_the_builders(app: coord.App) -> None:
    noop = _noop(app)
    task_id = app.enqueue(noop, {"n": 1}).id
    store = app.store
    (claimed,) = store.claim("w", ["default"], 1, 30)
    assert store.renew("w", [Renewal(task_id, 1, beat=True, progress=0.5, message="half")], 30)
    assert store.save_checkpoint("w", task_id, 1, '{"k":1}')
    found = _events(app, task_id)
    _same(found["task.started"], ev.task_started(task_id, 1, "w"))
    renewal = Renewal(task_id, 1, beat=True, progress=0.5, message="half")
    (progress,) = ev.progress_events([renewal], {task_id}, "w", {})
    _same(found["task.progress"], progress)
    _same(found["task.checkpointed"], ev.task_checkpointed(task_id, "w", '{"k":1}'))
    assert claimed.attempt == 1

    other = app.enqueue(noop, {"n": 2}).id
    assert store.cancel(other, "alice")
    _same(_events(app, other)["task.cancelled"], ev.task_cancelled(other, "alice"))


def test_recovery_events_are_the_builders(app: coord.App) -> None:
    noop = _noop(app)
    task_id = app.enqueue(noop, {"n": 1}).id
    store = app.store
    store.claim("w", ["default"], 1, 0.05)
    time.sleep(0.2)
    assert store.recover_expired() == 1
    (built,) = ev.recovery_events([(task_id, "pending", 1, "w")])
    _same(_events(app, task_id)["task.lease_expired"], built)


def test_delivery_events_are_the_builders(app: coord.App) -> None:
    app.add_agent("ana")
    app.add_agent("bob")
    first = app.send("ana", "bob", "one").id
    second = app.send("ana", "bob", "two").id
    store = app.store
    taken = store.take("bob", None, False)
    assert taken is not None and taken.id == first
    assert store.ack("bob", [second]) == [second]
    read = {e.topic: e for e in store.message_events(first)}["message.read"]
    _same(read, ev.delivery_changed("message.read", first, "bob"))
    acked = {e.topic: e for e in store.message_events(second)}["message.acked"]
    _same(acked, ev.delivery_changed("message.acked", second, "bob"))


def test_expiry_events_are_the_builders(app: coord.App) -> None:
    app.add_agent("ana")
    app.add_agent("bob")
    message_id = app.send("ana", "bob", "brief", ttl=0.05).id
    time.sleep(0.2)
    assert app.store.expire_messages() == 1
    expired = {e.topic: e for e in app.store.message_events(message_id)}["message.expired"]
    (built,) = ev.expired_events([(message_id, "bob")])
    _same(expired, built)
