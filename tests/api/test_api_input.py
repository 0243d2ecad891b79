"""What the API accepts (issue 13, items 3, 4, 5, 12 and 13), on both backends:
numbers out of range, NaN and Infinity, NUL characters and foreign cursors answer
422 naming the field (never 500, never stored as null); a missing setting answers
503 naming it; and every layer of the server, from the body limit to an unexpected
error, answers RFC 9457 problem+json with coord's stable code."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

import coord
from coord.api.app import create_app
from coord.settings import load_settings
from tests.api.harness import Api, running_api

PROBLEM = "application/problem+json"


def raw(api: Api, method: str, path: str, text: str, agent: str = "root") -> httpx.Response:
    """A request whose body is ``text`` as typed (Python's json would not write NaN)."""
    return api.call(
        agent, method, path, content=text.encode(), headers={"Content-Type": "application/json"}
    )


def problem(answer: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The answer is a problem+json of ``status`` and ``code``; return it."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM, answer.headers
    body = answer.json()
    assert {"type", "title", "status", "detail", "code"} <= body.keys(), body
    assert (body["status"], body["code"]) == (status, code), body
    return dict(body)


def refused(answer: httpx.Response, field: str) -> dict[str, Any]:
    """A 422 ``invalid_input`` naming ``field``."""
    body = problem(answer, 422, "invalid_input")
    assert body["field"] == field, body
    return body


def start_run(api: Api) -> str:
    answer = api.call("root", "POST", "/api/v1/runs", json={"workflow": "flow", "input": {}})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


# -- numbers (item 3) ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('{"usd": 1e999}', "usd"),
        ('{"usd": 1e300}', "usd"),
        ('{"tokens": 1000000000000000000000000000000}', "tokens"),
        ('{"tokens": 10000000000000001}', "tokens"),
        ('{"tool_seconds": NaN}', "tool_seconds"),
        ('{"tool_seconds": -Infinity}', "tool_seconds"),
    ],
)
def test_a_budget_out_of_range_is_a_422_naming_the_limit(api: Api, text: str, field: str) -> None:
    run_id = start_run(api)
    refused(raw(api, "PUT", f"/api/v1/runs/{run_id}/budget", text), field)
    assert api.call("root", "GET", f"/api/v1/runs/{run_id}").json()["budget"] == {}


def test_the_largest_budget_is_accepted(api: Api) -> None:
    run_id = start_run(api)
    body = {"tokens": 10**15, "usd": 1e9, "tool_seconds": 100 * 365.25 * 86400}
    answer = api.call("root", "PUT", f"/api/v1/runs/{run_id}/budget", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["budget"] == body


def test_event_ids_and_cursors_beyond_64_bits_are_a_422(api: Api) -> None:
    run_id = start_run(api)
    huge = str(10**30)
    refused(api.call("root", "GET", "/api/v1/events/list", params={"cursor": huge}), "cursor")
    refused(
        api.call("root", "GET", f"/api/v1/runs/{run_id}/events", params={"after_id": huge}),
        "after_id",
    )
    refused(
        api.call("root", "GET", "/api/v1/events", headers={"Last-Event-ID": huge}), "Last-Event-ID"
    )
    for after_seq in ("-1", huge, "1.5", "x"):
        answer = api.call(
            "root", "GET", "/api/v1/agents/bob/inbox", params={"after_seq": after_seq}
        )
        refused(answer, "after_seq")
    for after in (2**63, 2**64 + 5):
        cursor = _cursor(after)
        for flag in ("false", "true"):
            answer = api.call(
                "root",
                "GET",
                "/api/v1/agents/bob/inbox",
                params={"cursor": cursor, "by_priority": flag},
            )
            refused(answer, "cursor")
    for path in ("/api/v1/tasks", "/api/v1/runs"):
        refused(api.call("root", "GET", path, params={"cursor": _cursor("not-an-id")}), "cursor")
    # Lists computed whole page by position, histories by event id: neither takes
    # a key beyond 64 bits, a negative one, or one that is not a whole number.
    paged = ["/api/v1/queues", "/api/v1/dead-letters", "/api/v1/workflows", "/api/v1/keys"]
    paged.append(f"/api/v1/runs/{run_id}/events")
    for path in paged:
        for junk in (2**63, -1, "1", 1.5, True):
            refused(api.call("root", "GET", path, params={"cursor": _cursor(junk)}), "cursor")


def _cursor(key: object) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": key}).encode()).decode().rstrip("=")


# -- JSON that is not RFC 8259, NUL characters (items 4 and 5) -------------------------
@pytest.mark.parametrize(
    ("path", "text", "field"),
    [
        ("/api/v1/tasks", '{"task": "work", "payload": {"i": NaN}}', "payload.i"),
        ("/api/v1/tasks", '{"task": "work", "payload": {"i": [1, Infinity]}}', "payload.i.1"),
        ("/api/v1/tasks", '{"task": "work", "payload": {"i": 1e999}}', "payload.i"),
        ("/api/v1/tasks", '{"task": "work", "payload": {"i": 1' + "0" * 30 + "}}", "payload.i"),
        (
            "/api/v1/tasks/batch",
            '{"task": "work", "items": [{"payload": {}}, {"payload": {"i": -Infinity}}]}',
            "items.1.payload.i",
        ),
        ("/api/v1/tasks", '{"task": "work", "payload": {"i": "a\\u0000"}}', "payload.i"),
        ("/api/v1/tasks", '{"task": "work", "key": "k\\u0000"}', "key"),
        ("/api/v1/messages", '{"to": "bob", "subject": "s", "body": {"x": Infinity}}', "body.x"),
        ("/api/v1/messages", '{"to": "bob", "subject": "s\\u0000"}', "subject"),
        (
            "/api/v1/messages/batch",
            '{"messages": [{"to": "bob", "subject": "a"}, '
            '{"to": "bob", "subject": "b", "body": [1, "\\u0000"]}]}',
            "messages.1.body.1",
        ),
        ("/api/v1/runs", '{"workflow": "flow", "input": {"x": NaN}}', "input.x"),
        ("/api/v1/workflows/flow/plan", '{"input": [NaN]}', "input.0"),
    ],
)
def test_json_that_is_not_rfc_8259_is_a_422_naming_the_field_and_nothing_is_stored(
    api: Api, path: str, text: str, field: str
) -> None:
    refused(raw(api, "POST", path, text), field)
    assert api.call("root", "GET", "/api/v1/tasks").json()["data"] == []
    assert api.call("bob", "GET", "/api/v1/agents/bob/inbox").json()["data"] == []
    assert api.call("root", "GET", "/api/v1/runs").json()["data"] == []


def test_the_client_refuses_nan_itself_naming_the_field() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(201, json={"id": "x", "created": True})

    client = coord.Client("http://coord.test", "key", transport=httpx.MockTransport(handler))
    with pytest.raises(coord.InvalidInput) as caught:
        client.tasks.enqueue("work", {"i": float("nan")})
    assert caught.value.data["field"] == "payload.i"
    with pytest.raises(coord.InvalidInput) as nul:
        client.mail.send("bob", "s\x00")
    assert nul.value.data["field"] == "subject"
    assert sent == []


# -- cursors (item 12) -----------------------------------------------------------------
def test_cursor_0_reads_the_event_feed_from_the_first_event_on_both_backends(api: Api) -> None:
    start_run(api)
    # PostgreSQL shows an event once every older transaction has ended: wait for it.
    deadline = time.monotonic() + 30
    while not (first := api.call("root", "GET", "/api/v1/events/list").json())["data"]:
        assert time.monotonic() < deadline, "the feed showed no event"
        time.sleep(0.05)
    zero = api.call("root", "GET", "/api/v1/events/list", params={"cursor": "0"})
    assert zero.status_code == 200, zero.text
    assert zero.json()["data"][: len(first["data"])] == first["data"]
    page = api.call("root", "GET", "/api/v1/events/list", params={"limit": 1}).json()
    rest = api.call("root", "GET", "/api/v1/events/list", params={"cursor": page["next_cursor"]})
    after_first = [e["id"] for e in rest.json()["data"]]
    assert after_first[: len(first["data"]) - 1] == [e["id"] for e in first["data"][1:]]
    for junk in ("-1", "abc", "1.5", "0:0:0", ""):
        refused(api.call("root", "GET", "/api/v1/events/list", params={"cursor": junk}), "cursor")


# -- a missing setting (item 3) ---------------------------------------------------------
def test_a_checkpoint_without_a_signing_key_is_a_503_naming_the_setting(database_url: str) -> None:
    with running_api(database_url, ledger_signing_key=None) as api:
        body = problem(
            api.call("audrey", "POST", "/api/v1/audit/checkpoint"), 503, "setting_missing"
        )
        assert body["setting"] == "COORD_LEDGER_SIGNING_KEY"
        assert "COORD_LEDGER_SIGNING_KEY" in body["detail"]
        checkpoint = {"version": 1, "seq": 1, "hash": "0" * 64, "event_id": 1}
        verify = api.call("audrey", "POST", "/api/v1/audit/verify", json={"checkpoint": checkpoint})
        assert problem(verify, 503, "setting_missing")["setting"] == "COORD_LEDGER_SIGNING_KEY"


def test_the_client_does_not_retry_a_missing_setting() -> None:
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        body = {
            "type": "t",
            "title": "x",
            "status": 503,
            "detail": "set X",
            "code": "setting_missing",
        }
        return httpx.Response(503, json={**body, "setting": "X"}, headers={"content-type": PROBLEM})

    client = coord.Client("http://coord.test", "key", transport=httpx.MockTransport(handler))
    with pytest.raises(coord.CoordError) as caught:
        client.whoami()
    assert caught.value.code == "setting_missing"
    assert caught.value.data["setting"] == "X"
    assert len(sent) == 1


# -- every layer answers problem+json (item 13) ----------------------------------------
@pytest.fixture
def small(database_url: str) -> Iterator[Api]:
    """A server whose body limit is 1000 bytes."""
    with running_api(database_url, api_max_body_bytes=1000) as api:
        yield api


def _big_message() -> dict[str, Any]:
    return {"to": "bob", "subject": "big", "body": "x" * 2000}


def test_a_body_over_the_limit_is_a_413_problem_before_anything_runs(small: Api) -> None:
    declared = small.call("alice", "POST", "/api/v1/messages", json=_big_message())
    body = problem(declared, 413, "payload_too_large")
    assert "COORD_API_MAX_BODY_BYTES" in body["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        text = json.dumps(_big_message()).encode()
        for start in range(0, len(text), 256):
            yield text[start : start + 256]

    chunked = small.call(
        "alice",
        "POST",
        "/api/v1/messages",
        content=chunks(),
        headers={"Content-Type": "application/json"},
    )
    problem(chunked, 413, "payload_too_large")
    assert small.call("bob", "GET", "/api/v1/agents/bob/inbox").json()["data"] == []
    fits = small.call("alice", "POST", "/api/v1/messages", json={"to": "bob", "subject": "ok"})
    assert fits.status_code == 201, fits.text


def test_routing_method_and_media_type_errors_are_problems(api: Api) -> None:
    problem(api.call("root", "GET", "/api/v1/no-such-thing"), 404, "not_found")
    problem(api.call(None, "GET", "/nowhere"), 404, "not_found")
    problem(api.call("root", "DELETE", "/api/v1/tasks"), 405, "method_not_allowed")
    for headers in ({"Content-Type": "text/plain"}, {}):
        answer = api.call(
            "root", "POST", "/api/v1/tasks", content=b'{"task": "work"}', headers=headers
        )
        problem(answer, 415, "unsupported_media_type")
    problem(
        api.call(
            "root",
            "POST",
            "/api/v1/tasks",
            content=b"{nope",
            headers={"Content-Type": "application/json"},
        ),
        400,
        "malformed_json",
    )
    assert api.call("root", "GET", "/api/v1/tasks").json()["data"] == []


def test_an_unexpected_error_is_a_500_problem_without_internals(database_url: str) -> None:
    app = coord.App(database_url)
    try:
        settings = load_settings(database_url=database_url)
        server = create_app(settings, store=app.store, dev_mode=True)

        def boom() -> None:
            raise RuntimeError("secret internals")

        server.add_api_route("/api/v1/boom", boom, methods=["GET"])
        with TestClient(server, raise_server_exceptions=False) as client:
            answer = client.get("/api/v1/boom")
        body = problem(answer, 500, "internal_error")
        assert "secret" not in answer.text
        assert body["detail"] == "the server failed; the error is in its log"
    finally:
        app.close()
