"""``coord server`` as real processes: refused requests are recorded and an address
that keeps failing to authenticate is throttled, the counts shared by the processes
of ``--workers 2``; X-Forwarded-For counts only from a trusted proxy."""

from __future__ import annotations

import httpx

from tests.acceptance.harness import Workspace
from tests.acceptance.server_process import keyed_agent, serving

BAD = {"Authorization": "Bearer coord_aaaaaaaaaaaa_" + "x" * 43}


def _from(address: str, headers: dict[str, str] | None = None) -> dict[str, str]:
    return {"X-Forwarded-For": address, **(headers or {})}


def _denied(url: str, admin: str) -> list[dict[str, object]]:
    answer = httpx.get(
        url + "/api/v1/events/list",
        params={"topic": "auth.denied", "cursor": "0", "limit": 1000},
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert answer.status_code == 200, answer.text
    return [e["data"] for e in answer.json()["data"]]


def test_throttling_is_shared_by_the_server_processes(prepared: Workspace) -> None:
    admin = keyed_agent(prepared, "root", "admin")
    alice = {"Authorization": f"Bearer {keyed_agent(prepared, 'alice', 'agent')}"}
    prepared.env.update(
        {
            "COORD_API_AUTH_FAILURES": "6",
            "COORD_API_AUTH_WINDOW": "10000000",
            "COORD_API_DENIAL_EVENTS": "4",
            "COORD_API_TRUSTED_PROXIES": "127.0.0.1",
        }
    )
    with serving(prepared, "--workers", "2") as url:
        # Each request on a new connection: the two processes share the answers.
        for _ in range(6):
            answer = httpx.get(url + "/api/v1/me", headers=_from("198.51.100.1", BAD))
            assert answer.status_code == 401
        # Counted per process, 6 failures spread over two would throttle neither.
        for _ in range(8):
            refused = httpx.get(url + "/api/v1/me", headers=_from("198.51.100.1", BAD))
            assert refused.status_code == 429, refused.text
            assert int(refused.headers["Retry-After"]) >= 1
        throttled = httpx.get(url + "/api/v1/me", headers=_from("198.51.100.1", alice))
        assert throttled.status_code == 429
        assert (
            httpx.get(url + "/api/v1/me", headers=_from("198.51.100.2", alice)).status_code == 200
        )
        denied = _denied(url, admin)
    assert len(denied) == 4  # COORD_API_DENIAL_EVENTS of the 6
    assert {d["address"] for d in denied} == {"198.51.100.1"}
    assert {d["path"] for d in denied} == {"/api/v1/me"}


def test_x_forwarded_for_is_ignored_by_default(prepared: Workspace) -> None:
    admin = keyed_agent(prepared, "root", "admin")
    with serving(prepared) as url:
        answer = httpx.get(url + "/api/v1/me", headers=_from("203.0.113.9", BAD))
        assert answer.status_code == 401
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["cache-control"] == "no-store"
        denied = _denied(url, admin)
    assert [d["address"] for d in denied] == ["127.0.0.1"]
