"""JSON and numbers typed on the command line (issue 13, items 3 and 4), on SQLite and
PostgreSQL: NaN, Infinity, numbers beyond a double, NUL characters and budgets out
of range are one ``error:`` line naming the problem, exit code 1, no traceback, and
nothing written."""

from __future__ import annotations

from tests.acceptance.harness import Result, Workspace


def one_error_line(result: Result, *needles: str) -> None:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.describe()
    assert "Traceback" not in result.stderr, result.describe()
    for needle in needles:
        assert needle in lines[0], result.describe()


BAD_PAYLOADS = [
    ('{"n": NaN}', "NaN"),
    ('{"n": [1, Infinity]}', "Infinity"),
    ('{"n": -Infinity}', "Infinity"),
    ('{"n": 1e999}', "1e999"),
    ('{"n": 1' + "0" * 30 + "}", "payload.n"),
    ('{"n": "a\\u0000"}', "NUL"),
]
BAD_LIMITS = [
    ("usd=inf", "usd"),
    ("usd=nan", "usd"),
    ("usd=1e400", "usd"),
    ("tokens=10**30", "tokens"),
    ("tokens=1" + "0" * 30, "tokens"),
    ("tool_seconds=-1", "tool_seconds"),
]


def test_a_payload_that_is_not_rfc_8259_json_enqueues_nothing(prepared: Workspace) -> None:
    ws = prepared
    for payload, needle in BAD_PAYLOADS:
        one_error_line(ws.fails("task", "enqueue", "ok", "--payload", payload), needle)
        (ws.cwd / "payloads.jsonl").write_text('{"n": 1}\n' + payload + "\n")
        one_error_line(ws.fails("task", "enqueue", "ok", "-f", "payloads.jsonl"), needle)
    assert ws.tasks() == []


def test_a_run_input_or_message_body_with_nan_is_refused(prepared: Workspace) -> None:
    ws = prepared
    one_error_line(ws.fails("run", "start", "release", "--input", '{"topic": NaN}'), "NaN")
    one_error_line(ws.fails("run", "plan", "release", "--input", "[Infinity]"), "Infinity")
    assert ws.data("run", "list") == []
    ws.ok("agent", "add", "alice")
    ws.ok("agent", "add", "bob")
    one_error_line(ws.fails("send", "alice", "bob", "-s", "hi", "--json", '{"x": NaN}'), "NaN")
    nul = ws.fails("send", "alice", "bob", "-s", "hi", "--json", '{"x": "\\u0000"}')
    one_error_line(nul, "body.x", "NUL")
    assert ws.data("inbox", "bob") == []


def test_budget_set_out_of_range_is_one_error_line(prepared: Workspace) -> None:
    ws = prepared
    run_id = ws.ok("run", "start", "release", "--input", '{"topic": "t"}').stdout.strip()
    for limit, needle in BAD_LIMITS:
        one_error_line(ws.fails("budget", "set", run_id, limit), needle)
    assert ws.data("run", "get", run_id)["budget"] == {"tokens": 5000}
