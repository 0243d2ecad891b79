"""One list shape (issue 14, "The API, consistent"): every list the API returns is a
page ``{data, next_cursor, has_more}`` paged with ``limit`` and ``cursor``, and an
empty ``POST /dead-letters/retry`` retries nothing: it is refused unless it says
``all: true``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from coord.errors import InvalidInput
from coord.operations import EnqueueOptions
from tests.api.harness import Api, running_api
from tests.api.test_client import Live, serving


@pytest.fixture
def live(database_url: str) -> Iterator[Live]:
    """The cast and a real server over their database."""
    with running_api(database_url) as api, serving(api, database_url) as url:
        yield Live(url, api)


# The answers of a batch (one result per item sent) are lists of results, not lists
# to page through.
BATCHES = {"enqueueTasks", "sendMessages"}


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if method in {"get", "post", "put", "delete", "patch"}
    ]


def _success_schema(schema: dict[str, Any], op: dict[str, Any]) -> dict[str, Any] | None:
    for status in ("200", "201"):
        content = op["responses"].get(status, {}).get("content", {})
        if "application/json" in content:
            found: dict[str, Any] = content["application/json"]["schema"]
            ref = found.get("$ref")
            if ref is not None:
                found = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
            return found
    return None


def test_no_operation_answers_a_bare_list_and_every_list_pages_by_cursor(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    lists = 0
    for path, method, op in _operations(schema):
        answer = _success_schema(schema, op)
        if answer is None or op["operationId"] in BATCHES:
            continue
        assert answer.get("type") != "array", f"{method.upper()} {path} answers a bare array"
        if set(answer.get("properties", {})) >= {"data", "next_cursor", "has_more"}:
            lists += 1
            params = {p["name"] for p in op.get("parameters", [])}
            assert {"limit", "cursor"} <= params, f"{method.upper()} {path} pages otherwise"
            assert "after" not in params, f"{method.upper()} {path} still takes after"
    assert lists >= 13  # agents, inbox, tasks, runs, queues, dead letters, events, ...


@pytest.mark.parametrize(("path", "key"), [("/api/v1/queues", "queue"), ("/api/v1/keys", "id")])
def test_lists_computed_whole_page_through_every_item_once(api: Api, path: str, key: str) -> None:
    for n in range(3):
        answer = api.call("root", "POST", "/api/v1/tasks", json={"task": "work", "queue": f"q{n}"})
        assert answer.status_code == 201, answer.text
    whole = api.call("root", "GET", path, params={"limit": 500}).json()
    assert whole["has_more"] is False and whole["next_cursor"] is None
    seen: list[Any] = []
    cursor = None
    while True:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = api.call("root", "GET", path, params=params).json()
        seen += [item[key] for item in page["data"]]
        if not page["has_more"]:
            assert page["next_cursor"] is None
            break
        cursor = page["next_cursor"]
    assert seen == [item[key] for item in whole["data"]]
    assert len(seen) >= 2


def test_histories_page_by_event_id(api: Api) -> None:
    task = api.call("root", "POST", "/api/v1/tasks", json={"task": "work"}).json()["id"]
    api.call("root", "POST", f"/api/v1/tasks/{task}/cancel")
    path = f"/api/v1/tasks/{task}/events"
    first = api.call("root", "GET", path, params={"limit": 1}).json()
    assert first["has_more"] is True and len(first["data"]) == 1
    rest = api.call("root", "GET", path, params={"cursor": first["next_cursor"]}).json()
    assert rest["has_more"] is False
    whole = api.call("root", "GET", path).json()["data"]
    assert first["data"] + rest["data"] == whole
    assert [e["topic"] for e in whole] == ["task.enqueued", "task.cancelled"]


def test_the_client_follows_every_page_and_still_returns_lists(live: Live) -> None:
    with live.client("root") as root:
        for n in range(3):
            root.tasks.enqueue("work", {"n": n}, options=EnqueueOptions(queue=f"queue-{n}"))
        assert {"queue-0", "queue-1", "queue-2"} <= {q.queue for q in root.queues.stats()}
        assert isinstance(root.runs.workflows(), list)
        assert root.dead_letters.groups() == []


# -- retrying dead letters --------------------------------------------------------------
def _problem(answer: Any, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = answer.json()
    assert body["code"] == code, body
    return body


@pytest.mark.parametrize("body", [{}, {"reset_steps": True}, {"all": False}])
def test_a_retry_of_dead_letters_naming_nothing_is_refused(api: Api, body: Any) -> None:
    answer = api.call("root", "POST", "/api/v1/dead-letters/retry", json=body)
    problem = _problem(answer, 422, "invalid_input")
    assert problem["field"] == "task_ids"
    assert "all: true" in problem["detail"]


def test_a_retry_of_dead_letters_naming_tasks_and_all_is_refused(api: Api) -> None:
    task = api.call("root", "POST", "/api/v1/tasks", json={"task": "work"}).json()["id"]
    body = {"task_ids": [task], "all": True}
    answer = api.call("root", "POST", "/api/v1/dead-letters/retry", json=body)
    assert _problem(answer, 422, "invalid_input")["field"] == "all"
    empty = api.call("root", "POST", "/api/v1/dead-letters/retry", json={"task_ids": []})
    assert _problem(empty, 422, "invalid_input")["field"] == "task_ids"


def test_all_true_retries_every_dead_task(api: Api) -> None:
    answer = api.call("root", "POST", "/api/v1/dead-letters/retry", json={"all": True})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"replayed": []}


def test_the_client_retries_every_dead_task_only_when_told_all(live: Live) -> None:
    with live.client("root") as root:
        with pytest.raises(InvalidInput) as caught:
            root.dead_letters.retry()
        assert caught.value.data["field"] == "task_ids"
        assert root.dead_letters.retry(all=True) == []
