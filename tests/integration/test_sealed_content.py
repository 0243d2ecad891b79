"""The ledger covers content, on both backends: every event that records content
carries the hash of the content as stored, the hash made when writing agrees with
the row read back (PostgreSQL's jsonb rewrites numbers and keys), and `verify` finds
a row changed in the database, names it, and tells pending and legacy rows apart."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import coord
from coord.domain.sealed_content import json_digest, message_digest
from coord.services import audit
from tests.helpers import drive_run, work_until
from tests.integration.test_ledger import seal_all, sql

# Numbers jsonb prints otherwise than orjson writes them, keys it reorders (and that
# RFC 8785 orders by UTF-16 unit), an integer beyond 2**53, text beyond ASCII.
AWKWARD = {
    "float": 0.1,
    "integral": 100.0,
    "big_float": 1e18,
    "huge": 1.5e300,
    "tiny": 1e-7,
    "neg_zero": -0.0,
    "big_int": 2**60 + 1,
    "text": "é\n\u2028\U0001f600",
    "\ue000": 1,
    "\U0001f600": [True, None, {"b": 2, "a": 1}],
}


def text_of(url: str, table: str, column: str, row_id: str) -> str | None:
    """A stored column as text (jsonb's text on PostgreSQL)."""
    pg = not url.startswith("sqlite")
    cast, key = (f"{column}::text", "id::text") if pg else (column, "id")
    return sql(url, f"SELECT {cast} FROM {table} WHERE {key} = ?", row_id)[0][0]


def data_of(url: str, topic: str, ref: str, row_id: str) -> list[dict[str, Any]]:
    """The data of the events of ``topic`` about a row, oldest first."""
    pg = not url.startswith("sqlite")
    cast = f"{ref}::text" if pg else ref
    data = "data::text" if pg else "data"
    rows = sql(url, f"SELECT {data} FROM coord_events WHERE topic = ? AND {cast} = ? ORDER BY id",
               topic, row_id)  # fmt: skip
    return [orjson.loads(r[0]) for r in rows]


@pytest.fixture
def history(app: coord.App) -> dict[str, str]:
    """A task that checkpoints and returns awkward JSON, a message with an awkward
    body to an agent with a handler, and a run with an awkward input: their ids."""

    @app.task
    async def keep(ctx: coord.Context, n: int = 0, data: Any = None) -> dict[str, Any]:
        await ctx.checkpoint({"at": 1, **AWKWARD})
        await ctx.checkpoint({"at": 2, **AWKWARD})
        return {"n": n, **AWKWARD}

    @app.agent("reviewer")
    async def review(ctx: coord.AgentContext, message: coord.InboxMessage) -> None:
        return None

    wf = app.workflow("kept")
    wf.phase("one", task=keep, params={"n": 1})
    app.add_agent("coder")
    task = app.enqueue(keep, {"n": 7, "data": AWKWARD})
    sent = app.send("coder", "reviewer", "please review ✓", {"pr": 7, **AWKWARD})
    run = app.runs.start("kept", {"why": "audit", **AWKWARD})
    drive_run(app, run.id)
    work_until(app, lambda: app.get_task(task.id).state.is_terminal)
    seal_all(app)
    return {"task": task.id, "message": sent.id, "run": run.id}


def test_each_event_that_records_content_carries_the_hash_of_the_stored_row(
    app: coord.App, database_url: str, history: dict[str, str]
) -> None:
    url = database_url
    task, message, run = history["task"], history["message"], history["run"]

    def stored(table: str, column: str, row_id: str) -> str:
        text = text_of(url, table, column, row_id)
        assert text is not None
        return json_digest(text)

    (enqueued,) = data_of(url, "task.enqueued", "task_id", task)
    assert enqueued["payload_sha256"] == stored("coord_tasks", "payload", task)
    (succeeded,) = data_of(url, "task.succeeded", "task_id", task)
    assert succeeded["result_sha256"] == stored("coord_tasks", "result", task)
    checkpoints = data_of(url, "task.checkpointed", "task_id", task)
    assert len(checkpoints) == 2 and checkpoints[0] != checkpoints[1]
    assert checkpoints[-1]["checkpoint_sha256"] == stored("coord_tasks", "checkpoint", task)
    (sent,) = data_of(url, "message.sent", "message_id", message)
    body = text_of(url, "coord_messages", "body", message)
    assert body is not None
    assert sent["content_sha256"] == message_digest("please review ✓", body)
    (started,) = data_of(url, "run.started", "run_id", run)
    assert started["input_sha256"] == stored("coord_runs", "input", run)
    # The agent handler's task (enqueued by the send itself) and the run's task too.
    handlers = sql(url, "SELECT id FROM coord_tasks WHERE name = 'agent:reviewer'")
    phase_tasks = sql(url, "SELECT id FROM coord_tasks WHERE phase = 'one'")
    for (task_id,) in handlers + phase_tasks:
        (data,) = data_of(url, "task.enqueued", "task_id", str(task_id))
        assert data["payload_sha256"] == stored("coord_tasks", "payload", str(task_id))

    report = audit.verify(app.store)
    assert report.ok, report
    assert report.content is not None
    # payloads and results of 3 tasks (keep, its run's, the handler's), the checkpoints
    # of the 2 that checkpoint, the message, the run
    assert (report.content.checked, report.content.mismatched) == (10, 0), report.content
    assert (report.content.pending, report.content.uncovered) == (0, 0)


def _assert_found(app: coord.App, table: str, row_id: str, column: str, words: str) -> None:
    report = audit.verify(app.store)
    assert not report.ok and report.content is not None, report
    bad = report.content.bad_row
    assert bad is not None and (bad.table, bad.id, bad.column) == (table, row_id, column), report
    assert (report.first_bad_seq, report.first_bad_event_id) == (bad.seq, bad.event_id)
    assert report.problem is not None and words in report.problem, report.problem
    assert report.problem.startswith(f"{table} row {row_id}: its {column} ")
    assert audit.verify(app.store, content=False).ok  # the chain itself holds


def test_an_edited_checkpoint_is_found_against_the_last_checkpoint_event(
    app: coord.App, database_url: str, history: dict[str, str]
) -> None:
    task = history["task"]
    pg = not database_url.startswith("sqlite")
    value = "?::jsonb" if pg else "?"
    key = "id::text" if pg else "id"
    edited = orjson.dumps({"at": 1, **AWKWARD}).decode()  # the earlier checkpoint
    sql(database_url, f"UPDATE coord_tasks SET checkpoint = {value} WHERE {key} = ?", edited, task)
    _assert_found(app, "coord_tasks", task, "checkpoint", "does not match the hash sealed by")


def test_a_result_set_to_null_is_found(
    app: coord.App, database_url: str, history: dict[str, str]
) -> None:
    task = history["task"]
    key = "id::text" if not database_url.startswith("sqlite") else "id"
    sql(database_url, f"UPDATE coord_tasks SET result = NULL WHERE {key} = ?", task)
    _assert_found(app, "coord_tasks", task, "result", "is gone (NULL)")


def test_a_row_whose_event_was_removed_is_found_even_in_a_rebuilt_chain(
    app: coord.App, database_url: str, history: dict[str, str]
) -> None:
    # Remove the message's events and seal the whole chain again: the chain holds
    # (only a checkpoint could tell), but the message is recorded by no event.
    sql(
        database_url,
        "DELETE FROM coord_events WHERE topic IN ('message.sent', 'message.delivered')",
    )
    sql(database_url, "DELETE FROM coord_ledger")
    xid = ", event_xid = '0'" if not database_url.startswith("sqlite") else ""
    sql(
        database_url, f"UPDATE coord_ledger_head SET seq = 0, hash = ?, event_id = 0{xid}", "0" * 64
    )
    seal_all(app)
    _assert_found(
        app,
        "coord_messages",
        history["message"],
        "subject and body",
        "is recorded by no message.sent",
    )


def test_rows_whose_event_waits_to_be_sealed_or_carries_no_hash_are_not_failed(
    app: coord.App, database_url: str
) -> None:
    @app.task
    async def noop(ctx: coord.Context) -> None: ...

    app.enqueue(noop)
    report = audit.verify(app.store)  # nothing sealed yet
    assert report.ok and report.content is not None, report
    assert (report.content.checked, report.content.pending) == (0, 1)

    # An event written before coord hashed content: sealed, but with no hash to check.
    sql(database_url, "UPDATE coord_events SET data = NULL WHERE topic = 'task.enqueued'")
    seal_all(app)
    report = audit.verify(app.store)
    assert report.ok and report.content is not None, report
    assert (report.content.checked, report.content.pending, report.content.uncovered) == (0, 0, 1)


# -- jsonb against the hash of the JSON written ----------------------------------------
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00")),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00")),
            inner,
            max_size=4,
        )
    ),
    max_leaves=20,
)


@pytest.fixture(scope="module")
def pg(postgres_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        yield conn


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=JSON)
def test_jsonb_text_hashes_as_the_json_text_written(
    pg: psycopg.Connection[Any], value: Any
) -> None:
    written = orjson.dumps(value).decode()
    (stored,) = pg.execute("SELECT %s::jsonb::text", (written,)).fetchone() or ("",)
    assert json_digest(stored) == json_digest(written), (written, stored)
