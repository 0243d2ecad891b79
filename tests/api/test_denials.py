"""Refused requests leave a trace and cost the refused (issue 13, item 10): 401s and
403s are recorded as events (the route's template, never a key), a flood records
its first N and one summary, and an address that keeps failing is throttled while
a valid key from another address goes on, on both backends."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from coord.domain.views import EventInfo
from coord.ports.events import EventQuery
from tests.api.harness import Api, running_api

LONG_WINDOW = 10_000_000.0  # seconds: no window ends during a test
BAD_KEY = "coord_aaaaaaaaaaaa_" + "x" * 43  # well formed, of no key


def events(api: Api, topic: str, at_least: int = 1) -> list[EventInfo]:
    """The feed's events of ``topic``, once it shows ``at_least`` of them (or after
    30 s). PostgreSQL's feed shows an event only once every older transaction has
    ended, in any database of the server: another session's transaction delays it."""
    deadline = time.monotonic() + 30
    while True:
        found = list(api.app.store.events_after(None, EventQuery(topic=topic, limit=1000)).events)
        if len(found) >= at_least or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def other_client(api: Api, host: str) -> TestClient:
    """A client of the same running server, calling from ``host``."""
    return TestClient(api.client.app, client=(host, 40000))


@pytest.fixture
def guarded(database_url: str) -> Iterator[Api]:
    options: dict[str, Any] = {
        "api_auth_failures": 5,
        "api_auth_window": LONG_WINDOW,
        "api_denial_events": 3,
    }
    with running_api(database_url, **options) as running:
        yield running


def test_a_failed_authentication_is_recorded_without_the_key(api: Api) -> None:
    run_id = "0190f0f0-0000-7000-8000-000000000000"
    answer = api.client.get(
        f"/api/v1/runs/{run_id}", headers={"Authorization": f"Bearer {BAD_KEY}"}
    )
    assert answer.status_code == 401
    assert api.client.get("/api/v1/me").status_code == 401
    found = events(api, "auth.denied", 2)
    assert [e.data for e in found] == [
        {
            "address": "testclient",
            "method": "GET",
            "path": "/api/v1/runs/{run_id}",
            "reason": "unknown_key",
        },
        {"address": "testclient", "method": "GET", "path": "/api/v1/me", "reason": "missing_key"},
    ]
    assert all(e.actor is None for e in found)
    text = str([e.model_dump() for e in found])
    assert BAD_KEY[6:] not in text and "x" * 10 not in text and run_id not in text


def test_a_revoked_key_is_named_by_its_id(api: Api) -> None:
    key_id = api.keys["bob"].split("_")[1]
    api.app.store.revoke_key(key_id, actor="test")
    assert api.call("bob", "GET", "/api/v1/me").status_code == 401
    (found,) = events(api, "auth.denied")
    assert found.data is not None
    assert found.data["reason"] == "revoked_key"
    assert found.data["key_id"] == key_id
    assert api.keys["bob"].split("_", 2)[2] not in str(found.data)


def test_a_forbidden_request_is_recorded_with_its_agent(api: Api) -> None:
    assert api.call("vic", "DELETE", "/api/v1/agents/alice").status_code == 403
    (found,) = events(api, "access.denied")
    assert found.data == {
        "address": "testclient",
        "method": "DELETE",
        "path": "/api/v1/agents/{name}",
        "reason": "forbidden",
        "agent": "vic",
        "key_id": api.keys["vic"].split("_")[1],
    }
    assert found.actor == "vic"
    server = api.client.app.state.coord  # type: ignore[attr-defined]
    assert server.denials.counts.snapshot() == {("access.denied", "forbidden"): 1}


def test_a_flood_records_its_first_denials_only(guarded: Api) -> None:
    flood = other_client(guarded, "10.0.0.7")
    for _ in range(5):
        assert flood.get("/api/v1/me").status_code == 401
    assert len(events(guarded, "auth.denied", 3)) == 3
    tally = guarded.app.store.denial_tally("10.0.0.7", window=LONG_WINDOW)
    assert tally is not None and (tally.denials, tally.failures) == (5, 5)
    server = guarded.client.app.state.coord  # type: ignore[attr-defined]
    assert server.denials.counts.total("auth.denied") == 5


def test_an_address_that_keeps_failing_is_throttled_and_others_are_not(guarded: Api) -> None:
    flood = other_client(guarded, "10.0.0.8")
    bad = {"Authorization": f"Bearer {BAD_KEY}"}
    for _ in range(5):
        assert flood.get("/api/v1/me", headers=bad).status_code == 401
    refused = flood.get("/api/v1/me", headers=bad)
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= LONG_WINDOW
    # The whole address is refused, a valid key included ...
    assert flood.get("/api/v1/me", headers=guarded.auth("alice")).status_code == 429
    # ... but the same key from another address goes on.
    assert (
        other_client(guarded, "10.0.0.9")
        .get("/api/v1/me", headers=guarded.auth("alice"))
        .status_code
        == 200
    )
    assert guarded.call("alice", "GET", "/api/v1/me").status_code == 200
    # Throttled answers are not denials: nothing more was recorded.
    assert len(events(guarded, "auth.denied", 3)) == 3


def test_forbidden_requests_do_not_throttle(guarded: Api) -> None:
    for _ in range(7):
        assert guarded.call("vic", "DELETE", "/api/v1/agents/alice").status_code == 403
    assert guarded.call("vic", "GET", "/api/v1/me").status_code == 200
    assert len(events(guarded, "access.denied", 3)) == 3


def test_an_ended_window_leaves_one_summary_of_what_it_did_not_record(
    database_url: str,
) -> None:
    options: dict[str, Any] = {
        "api_auth_failures": 0,
        "api_auth_window": 1.0,
        "api_denial_events": 2,
    }
    with running_api(database_url, **options) as api:
        flood = other_client(api, "10.0.1.1")
        for _ in range(9):
            assert flood.get("/api/v1/me").status_code == 401
        time.sleep(1.05)  # every window the flood touched has ended
        server = api.client.app.state.coord  # type: ignore[attr-defined]
        server.denials.summarize()
        recorded = events(api, "auth.denied", 2)
        summaries = events(api, "auth.suppressed")
        assert server.denials.summarize() == 0  # once per window
        assert len(events(api, "auth.suppressed")) == len(summaries)
    assert summaries, "a window with more than 2 denials leaves a summary"
    assert 2 <= len(recorded) < 9
    assert len(recorded) + sum(s.data["suppressed"] for s in summaries if s.data) == 9
    for summary in summaries:
        assert summary.data is not None
        assert summary.data["address"] == "10.0.1.1"
        assert summary.data["recorded"] == 2
        assert summary.data["denials"] == 2 + summary.data["suppressed"]
