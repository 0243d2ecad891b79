"""The API's contract: keys required, the caller is the sender, problem+json errors,
pagination, Idempotency-Key, health."""

from __future__ import annotations

import pytest

from tests.api.harness import Api

PROBLEM = "application/problem+json"


def test_health_needs_no_key_and_everything_else_does(api: Api) -> None:
    assert api.call(None, "GET", "/healthz").json() == {"status": "ok", "schema_version": None}
    ready = api.call(None, "GET", "/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    for method, path in [
        ("GET", "/api/v1/agents"),
        ("POST", "/api/v1/messages"),
        ("GET", "/api/v1/me"),
    ]:
        answer = api.call(None, method, path)
        assert answer.status_code == 401, (method, path)
        assert answer.headers["content-type"] == PROBLEM
        assert answer.json()["code"] == "unauthenticated"
        assert answer.headers["www-authenticate"].startswith("Bearer")
    bad = api.client.get("/api/v1/me", headers={"Authorization": "Bearer coord_nope_nope"})
    assert bad.status_code == 401


def test_whoami_names_the_caller_and_its_role(api: Api) -> None:
    me = api.call("alice", "GET", "/api/v1/me").json()
    assert me["agent"] == "alice"
    assert me["role"] == "agent"
    assert "send_message" in me["permissions"]


def test_a_message_is_sent_as_the_caller_and_never_as_another(api: Api) -> None:
    sent = api.call(
        "alice", "POST", "/api/v1/messages", json={"to": "bob", "subject": "hi", "body": {"n": 1}}
    )
    assert sent.status_code == 201, sent.text
    inbox = api.call("bob", "GET", "/api/v1/agents/bob/inbox").json()
    assert [(m["sender"], m["subject"]) for m in inbox["data"]] == [("alice", "hi")]

    spoof = api.call(
        "alice",
        "POST",
        "/api/v1/messages",
        json={"to": "bob", "subject": "from bob?", "sender": "olga"},
    )
    assert spoof.status_code == 403
    assert spoof.json()["code"] == "forbidden"
    assert spoof.json()["field"] == "sender"
    assert len(api.call("bob", "GET", "/api/v1/agents/bob/inbox").json()["data"]) == 1

    peek = api.call("alice", "GET", "/api/v1/agents/bob/inbox")
    assert peek.status_code == 403
    assert api.call("olga", "GET", "/api/v1/agents/bob/inbox").status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"subject": "no recipient"}, "to"),
        ({"to": "bob", "subject": ""}, "subject"),
        ({"to": "bob", "subject": "x", "role": "admin"}, "role"),
        ({"to": "bob", "subject": "x", "priority": "urgent"}, "priority"),
        ({"to": "nobody", "subject": "x"}, None),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(
    api: Api, body: dict[str, object], field: str | None
) -> None:
    answer = api.call("alice", "POST", "/api/v1/messages", json=body)
    assert answer.status_code in (404, 422), answer.text
    assert answer.headers["content-type"] == PROBLEM
    problem = answer.json()
    assert {"type", "title", "status", "detail", "code"} <= problem.keys()
    if field is not None:
        assert problem["field"] == field, problem
    assert api.call("bob", "GET", "/api/v1/agents/bob/inbox").json()["data"] == []


def test_malformed_json_is_a_400(api: Api) -> None:
    answer = api.call(
        "alice",
        "POST",
        "/api/v1/messages",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == "malformed_json"


def test_idempotency_key_replays_the_first_response_and_refuses_another_body(api: Api) -> None:
    headers = {"Idempotency-Key": "k-1"}
    body = {"to": "bob", "subject": "once"}
    first = api.call("alice", "POST", "/api/v1/messages", json=body, headers=headers)
    again = api.call("alice", "POST", "/api/v1/messages", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again.headers.get("idempotent-replayed") == "true"
    other = api.call(
        "alice",
        "POST",
        "/api/v1/messages",
        json={"to": "bob", "subject": "twice?"},
        headers=headers,
    )
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_conflict"
    assert len(api.call("bob", "GET", "/api/v1/agents/bob/inbox").json()["data"]) == 1


def test_lists_are_cursor_paginated_without_repeats_or_gaps(api: Api) -> None:
    for n in range(7):
        created = api.call(
            "alice", "POST", "/api/v1/tasks", json={"task": "work", "payload": {"n": n}}
        )
        assert created.status_code == 201, created.text
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, object] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = api.call("alice", "GET", "/api/v1/tasks", params=params).json()
        seen += [t["id"] for t in page["data"]]
        if not page["has_more"]:
            assert page["next_cursor"] is None
            break
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen)) == 7
    assert seen == sorted(seen, reverse=True)
    bad = api.call("alice", "GET", "/api/v1/tasks", params={"cursor": "garbage!"})
    assert bad.status_code == 422
    assert bad.json()["field"] == "cursor"


def test_enqueue_refuses_coords_own_tasks(api: Api) -> None:
    answer = api.call("alice", "POST", "/api/v1/tasks", json={"task": "agent:bob"})
    assert answer.status_code == 403


@pytest.mark.parametrize("reset_steps", ["yes", [], [""], 1, ["x" * 201], ["s"] * 101], ids=repr)
def test_a_bad_reset_steps_is_a_422_naming_the_field(api: Api, reset_steps: object) -> None:
    task = api.call("alice", "POST", "/api/v1/tasks", json={"task": "work"}).json()["id"]
    for path, body in [
        (f"/api/v1/tasks/{task}/retry", {"reset_steps": reset_steps}),
        ("/api/v1/dead-letters/retry", {"task_ids": [task], "reset_steps": reset_steps}),
    ]:
        answer = api.call("root", "POST", path, json=body)
        assert answer.status_code == 422, (path, answer.text)
        assert answer.headers["content-type"] == PROBLEM
        assert "reset_steps" in answer.text
    assert api.call("root", "GET", f"/api/v1/tasks/{task}").json()["state"] == "pending"
