"""``coord server`` as a real process (uvicorn) on each backend answers problem+json
from every layer (issue 13 item 13): a body over ``COORD_API_MAX_BODY_BYTES``, sent
with a length or chunked, is a 413 ``payload_too_large`` (FastAPI's own limit
answered text/plain), and the server goes on serving."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx

from tests.acceptance.harness import Workspace
from tests.acceptance.server_process import keyed_agent, serving

PROBLEM = "application/problem+json"


def _problem(answer: httpx.Response, status: int, code: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM, answer.headers
    assert answer.json()["code"] == code, answer.text


def test_the_real_server_answers_every_layer_with_a_problem(prepared: Workspace) -> None:
    key = keyed_agent(prepared, "alice", "agent")
    prepared.ok("agent", "add", "bob")
    prepared.env["COORD_API_MAX_BODY_BYTES"] = "1000"
    auth = {"Authorization": f"Bearer {key}"}
    big = {"to": "bob", "subject": "big", "body": "x" * 5000}

    def chunks() -> Iterator[bytes]:
        text = json.dumps(big).encode()
        yield from (text[i : i + 512] for i in range(0, len(text), 512))

    with serving(prepared) as url, httpx.Client(base_url=url, headers=auth) as http:
        _problem(http.post("/api/v1/messages", json=big), 413, "payload_too_large")
        chunked = http.post(
            "/api/v1/messages", content=chunks(), headers={"Content-Type": "application/json"}
        )
        _problem(chunked, 413, "payload_too_large")
        _problem(http.get("/api/v1/nowhere"), 404, "not_found")
        _problem(http.put("/api/v1/messages"), 405, "method_not_allowed")
        plain = http.post("/api/v1/messages", content=b"hi", headers={"Content-Type": "text/plain"})
        _problem(plain, 415, "unsupported_media_type")
        sent = http.post("/api/v1/messages", json={"to": "bob", "subject": "small"})
        assert sent.status_code == 201, sent.text
    inbox = prepared.data("inbox", "bob")
    assert [m["subject"] for m in inbox] == ["small"]
