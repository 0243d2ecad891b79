"""What coord accepts from the SDK, the same on both backends (issue 13, items 3, 4,
5 and 12): JSON content is stored unchanged or refused (no NaN or Infinity turned
into null), no NUL character reaches either database, every number has a range,
and an event cursor means the same on SQLite and PostgreSQL. A refusal is an
``InvalidInput`` naming the field, and nothing is written."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import pytest

import coord
from coord.domain.tasks import TaskState
from coord.domain.workflows import parse_workflow
from coord.ports.events import EventQuery
from coord.services import messages, runs
from tests.helpers import all_final, drive_run, work_until

NAN = math.nan
INF = math.inf


def declare(app: coord.App) -> None:
    """A task, the agents that mail each other and a one-phase workflow."""

    @app.task(name="work")
    async def work(ctx: coord.Context, i: Any = None) -> dict[str, Any]:
        return {"i": i}

    flow = app.workflow("flow")
    flow.phase("only", task=work)
    app.add_agent("alice")
    app.add_agent("bob")


def refused(call: Callable[[], Any], field: str) -> coord.InvalidInput:
    """``call()`` raises ``InvalidInput`` naming ``field``."""
    with pytest.raises(coord.InvalidInput) as caught:
        call()
    assert caught.value.data.get("field") == field, caught.value.to_dict()
    return caught.value


def nothing_written(app: coord.App) -> None:
    assert app.list_tasks() == []
    assert app.inbox("bob") == []
    assert app.runs.find() == []


@pytest.mark.parametrize(
    ("what", "field"),
    [
        ("payload NaN", "payload.i"),
        ("payload Infinity in a list", "payload.i.1"),
        ("payload -Infinity in a batch", "items.1.payload.i"),
        ("payload integer beyond 64 bits", "payload.i"),
        ("message body Infinity", "body.x"),
        ("run input NaN", "input.x"),
    ],
)
def test_nan_infinity_and_huge_integers_are_refused_not_stored_as_null(
    app: coord.App, what: str, field: str
) -> None:
    declare(app)
    calls: dict[str, Callable[[], Any]] = {
        "payload NaN": lambda: app.enqueue("work", {"i": NAN}),
        "payload Infinity in a list": lambda: app.enqueue("work", {"i": [1, INF]}),
        "payload -Infinity in a batch": lambda: app.enqueue_many("work", [{"i": 1}, {"i": -INF}]),
        "payload integer beyond 64 bits": lambda: app.enqueue("work", {"i": 10**30}),
        "message body Infinity": lambda: app.send("alice", "bob", "s", {"x": INF}),
        "run input NaN": lambda: app.runs.start("flow", {"x": NAN}),
    }
    refused(calls[what], field)
    nothing_written(app)


@pytest.mark.parametrize(
    ("what", "field"),
    [
        ("payload text", "payload.i"),
        ("payload key", "payload.i\\u0000"),
        ("task key", "key"),
        ("queue", "queue"),
        ("message subject", "subject"),
        ("message body", "body.0"),
        ("message key", "key"),
        ("run input", "input.text"),
        ("run key", "key"),
    ],
)
def test_a_nul_character_is_refused_on_both_backends(app: coord.App, what: str, field: str) -> None:
    declare(app)
    calls: dict[str, Callable[[], Any]] = {
        "payload text": lambda: app.enqueue("work", {"i": "a\x00b"}),
        "payload key": lambda: app.enqueue("work", {"i\x00": 1}),
        "task key": lambda: app.enqueue("work", {"i": 1}, key="k\x00"),
        "queue": lambda: app.enqueue("work", {"i": 1}, queue="q\x00"),
        "message subject": lambda: app.send("alice", "bob", "s\x00"),
        "message body": lambda: app.send("alice", "bob", "s", ["\x00"]),
        "message key": lambda: app.send("alice", "bob", "s", key="k\x00"),
        "run input": lambda: app.runs.start("flow", {"text": "\x00"}),
        "run key": lambda: app.runs.start("flow", {}, key="k\x00"),
    }
    error = refused(calls[what], field)
    assert "NUL" in error.message
    nothing_written(app)


def test_an_agent_with_nul_in_its_description_is_refused(app: coord.App) -> None:
    refused(lambda: app.add_agent("carl", description="d\x00"), "description")
    refused(lambda: app.add_agent("carl", domains=["ok", "x\x00"]), "domains.1")
    assert [a.name for a in app.list_agents()] == []


def test_content_is_stored_exactly_as_given(app: coord.App) -> None:
    declare(app)
    payload = {"none": None, "big": 2**63 - 1, "small": -(2**63), "text": "null", "f": 0.1}
    task = app.enqueue("work", {"i": payload})
    assert app.get_task(task.id).payload == {"i": payload}


def test_results_checkpoints_and_steps_that_are_not_json_fail_the_task(app: coord.App) -> None:
    seen: dict[str, str] = {}

    @app.task(retries=0)
    async def returns_nan(ctx: coord.Context) -> dict[str, float]:
        return {"x": NAN}

    @app.task(retries=0)
    async def saves(ctx: coord.Context) -> str:
        for name, call in (
            ("checkpoint", lambda: ctx.checkpoint({"at": INF})),
            ("step", lambda: ctx.step("fetch", lambda: [NAN])),
        ):
            try:
                await call()
            except coord.InvalidInput as exc:
                seen[name] = str(exc.data.get("field"))
        return "done"

    bad = app.enqueue(returns_nan)
    ok = app.enqueue(saves)
    work_until(app, all_final(app, [bad.id, ok.id]))
    info = app.get_task(bad.id)
    assert info.state is TaskState.DEAD
    assert "result.x" in info.error["message"] and "NaN" in info.error["message"]
    assert info.result is None
    assert seen == {"checkpoint": "checkpoint.at", "step": "steps.fetch.0"}
    assert app.get_task(ok.id).checkpoint is None


def test_an_error_message_holding_nul_is_recorded_on_both_backends(app: coord.App) -> None:
    @app.task(retries=0)
    async def fails(ctx: coord.Context) -> None:
        raise coord.FatalError("bad byte \x00 here")

    task = app.enqueue(fails)
    work_until(app, all_final(app, [task.id]))
    info = app.get_task(task.id)
    assert info.state is TaskState.DEAD
    assert info.error["message"] == "bad byte \\x00 here"


def test_charges_and_heartbeats_out_of_range_are_refused_in_the_handler(
    app: coord.App,
) -> None:
    seen: dict[str, str] = {}

    @app.task(retries=0)
    async def charges(ctx: coord.Context) -> str:
        for name, call in (
            ("usd", lambda: ctx.charge(usd=INF)),
            ("tokens_in", lambda: ctx.charge(tokens_in=10**30)),
            ("tool_seconds", lambda: ctx.charge(tool_seconds=NAN)),
            ("progress", lambda: ctx.heartbeat(progress=NAN)),
            ("message", lambda: ctx.heartbeat(message="a\x00")),
        ):
            try:
                call()
            except coord.InvalidInput as exc:
                seen[name] = str(exc.data.get("field"))
        ctx.charge(tokens_in=5, usd=0.5)
        return "done"

    task = app.enqueue(charges)
    work_until(app, all_final(app, [task.id]))
    assert app.get_task(task.id).state is TaskState.SUCCEEDED
    assert seen == {k: k for k in ("usd", "tokens_in", "tool_seconds", "progress", "message")}


@pytest.mark.parametrize(
    ("limits", "field"),
    [
        ({"usd": INF}, "usd"),
        ({"usd": 1e300}, "usd"),
        ({"tokens": 10**30}, "tokens"),
        ({"tokens": NAN}, "tokens"),
        ({"tool_seconds": NAN}, "tool_seconds"),
        ({"tool_seconds": -1}, "tool_seconds"),
    ],
)
def test_budget_limits_out_of_range_are_refused_naming_the_limit(
    app: coord.App, limits: dict[str, float], field: str
) -> None:
    declare(app)
    run = app.runs.start("flow", {})
    refused(lambda: app.runs.set_budget(run.id, **limits), field)
    assert app.runs.get(run.id).budget == {}
    assert app.runs.set_budget(run.id, tokens=10**15, usd=1e9).budget == {
        "tokens": 10**15,
        "usd": 1e9,
    }


def test_a_workflow_definition_with_nan_or_huge_numbers_is_invalid() -> None:
    for definition in (
        {"name": "w", "budget": {"usd": NAN}, "phases": {"a": {"task": "work"}}},
        {"name": "w", "budget": {"tokens": INF}, "phases": {"a": {"task": "work"}}},
        {"name": "w", "phases": {"a": {"task": "work", "with": {"x": NAN}}}},
        {"name": "w", "phases": {"a": {"task": "work", "retries": 10**30}}},
        {"name": "w", "phases": {"a": {"task": "work", "with": {"x": "\x00"}}}},
    ):
        with pytest.raises(coord.InvalidWorkflow):
            runs.checked(parse_workflow, definition)


def test_cursors_and_sequence_numbers_beyond_64_bits_are_refused(app: coord.App) -> None:
    declare(app)
    run = app.runs.start("flow", {})
    refused(lambda: runs.run_events(app.store, run.id, 10**30), "after")
    refused(lambda: messages.inbox(app.store, "bob", after_seq=2**63), "after")
    for cursor in ("9" * 19, "99999999999999999999:9999999999999999999", "-1", "1\n", "x"):
        with pytest.raises(ValueError, match="not an event cursor"):
            app.store.events_after(cursor, EventQuery())


def test_cursor_0_reads_the_feed_from_its_first_event_on_both_backends(app: coord.App) -> None:
    declare(app)
    app.enqueue("work", {"i": 1})
    # PostgreSQL shows an event once every older transaction has ended (on a busy
    # server that can take a moment): wait for the feed to show it.
    deadline = time.monotonic() + 30
    while not (first := app.store.events_after(None, EventQuery())).events:
        assert time.monotonic() < deadline, "the feed showed no event"
        time.sleep(0.05)
    seen = [e.id for e in first.events]
    from_zero = app.store.events_after("0", EventQuery())
    assert [e.id for e in from_zero.events][: len(seen)] == seen
    # The cursor a page gives continues after it, on either backend.
    rest = app.store.events_after(first.cursors[0], EventQuery())
    assert [e.id for e in rest.events][: len(seen) - 1] == seen[1:]


def test_a_run_with_a_nan_phase_result_fails_rather_than_storing_null(app: coord.App) -> None:
    @app.task(name="nan", retries=0)
    async def nan(ctx: coord.Context) -> dict[str, float]:
        return {"score": NAN}

    flow = app.workflow("nanflow")
    flow.phase("only", task=nan)
    run = app.runs.start("nanflow", {})
    found = drive_run(app, run.id)
    assert found.state is coord.RunState.FAILED


def test_a_lookup_by_a_name_holding_nul_is_refused_alike_on_both_backends(
    app: coord.App,
) -> None:
    # PostgreSQL cannot even compare with such a text (it answered a bare
    # InvalidInput), SQLite looked for it (NotFound or an empty list).
    declare(app)
    refused(lambda: app.get_agent("bo\x00b"), "agent")
    refused(lambda: app.inbox("bo\x00b"), "agent")
    refused(lambda: app.remove_agent("bo\x00b"), "agent")
    refused(lambda: app.list_tasks(queue="q\x00"), "queue")
    refused(lambda: app.runs.find(coord.RunFilter(workflow="fl\x00ow")), "workflow")
    refused(lambda: app.runs.workflow("fl\x00ow"), "workflow")
    refused(lambda: app.enqueue_many("wo\x00rk", [{}]), "task")
