"""``coord server`` as a real process on each backend: it refuses to start without a
key, serves keyless requests only in --dev, rate-limits one noisy key without
slowing another, and streams events over SSE that resume from Last-Event-ID."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import Counter

import httpx

from tests.acceptance.harness import Workspace
from tests.acceptance.server_process import free_port, keyed_agent, serving


def test_the_server_refuses_to_start_without_any_key(prepared: Workspace) -> None:
    failed = prepared.fails("server", "--port", str(free_port()))
    assert "no usable API key" in failed.stderr
    assert "coord key create" in failed.stderr


def test_dev_mode_serves_without_keys_and_says_so_loudly(prepared: Workspace) -> None:
    prepared.ok("agent", "add", "alice")
    with serving(prepared, "--dev") as url:
        me = httpx.get(url + "/api/v1/me", headers={"X-Coord-Agent": "alice"})
        assert me.status_code == 200
        assert me.json()["agent"] == "alice"
    # The warning went to the log (stderr) of the process, which has ended now.


def test_a_key_over_its_limit_gets_429_and_another_key_is_unaffected(
    prepared: Workspace,
) -> None:
    noisy = keyed_agent(prepared, "noisy", "agent")
    calm = keyed_agent(prepared, "calm", "agent")
    rate, burst = 20, 50
    prepared.env.update({"COORD_API_RATE": str(rate), "COORD_API_BURST": str(burst)})
    with serving(prepared) as url:
        statuses, calm_statuses, elapsed, retry_after = asyncio.run(
            _burst(url, noisy, calm, total=500)
        )
    counts = Counter(statuses)
    accepted = counts[200]
    assert not [s for s in statuses + calm_statuses if s >= 500]
    assert accepted + counts[429] == 500, counts
    assert burst <= accepted <= burst + math.ceil(rate * elapsed) + 1, (accepted, elapsed)
    assert set(calm_statuses) == {200}
    assert retry_after and all(int(v) >= 1 for v in retry_after)


async def _burst(
    url: str, noisy: str, calm: str, total: int
) -> tuple[list[int], list[int], float, list[str]]:
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        noisy_headers = {"Authorization": f"Bearer {noisy}"}
        calm_headers = {"Authorization": f"Bearer {calm}"}

        async def one(headers: dict[str, str]) -> httpx.Response:
            return await client.get("/api/v1/me", headers=headers)

        started = time.monotonic()
        flood = [asyncio.create_task(one(noisy_headers)) for _ in range(total)]
        calm_calls = []
        for _ in range(10):  # the other agent keeps working through the flood
            calm_calls.append(await one(calm_headers))
        answers = await asyncio.gather(*flood)
        elapsed = time.monotonic() - started
    return (
        [a.status_code for a in answers],
        [a.status_code for a in calm_calls],
        elapsed,
        [a.headers["retry-after"] for a in answers if a.status_code == 429],
    )


def test_events_stream_over_sse_and_resume_from_the_last_event_id(prepared: Workspace) -> None:
    alice = keyed_agent(prepared, "alice", "agent")
    bob = keyed_agent(prepared, "bob", "agent")
    with serving(prepared) as url:
        as_bob = {"Authorization": f"Bearer {bob}"}

        def send(subject: str) -> str:
            sent = httpx.post(
                url + "/api/v1/messages",
                json={"to": "bob", "subject": subject},
                headers={"Authorization": f"Bearer {alice}"},
            )
            assert sent.status_code == 201, sent.text
            return str(sent.json()["id"])

        with httpx.stream(
            "GET", url + "/api/v1/events", params={"agent": "bob"}, headers=as_bob, timeout=10
        ) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            first = send("one")
            event_id, event = _next_event(stream.iter_lines())
        assert event["message_id"] == first

        second = send("two")
        with httpx.stream(
            "GET",
            url + "/api/v1/events",
            params={"agent": "bob"},
            headers={**as_bob, "Last-Event-ID": event_id},
            timeout=10,
        ) as stream:
            lines = stream.iter_lines()
            seen = [_next_event(lines)[1] for _ in range(2)]
        # After the first message's first event: the rest of its events, then the second's.
        assert {e["message_id"] for e in seen} <= {first, second}
        assert all(e["id"] > event["id"] for e in seen)

        other = httpx.get(url + "/api/v1/events", params={"agent": "alice"}, headers=as_bob)
        assert other.status_code == 403


def _next_event(lines: object) -> tuple[str, dict[str, object]]:
    """The next SSE event of a line iterator: (its id, its data)."""
    event_id, data = None, None
    for line in lines:  # type: ignore[attr-defined]
        if line.startswith("id: "):
            event_id = line[4:]
        elif line.startswith("data: "):
            data = json.loads(line[6:])
        elif line == "" and data is not None:
            assert event_id is not None
            return event_id, data
    raise AssertionError("the stream ended")


def test_several_server_processes_serve_one_database_and_keep_one_chain(
    prepared: Workspace,
) -> None:
    alice = keyed_agent(prepared, "alice", "agent")
    keyed_agent(prepared, "bob", "agent")
    with serving(prepared, "--workers", "2") as url:
        headers = {"Authorization": f"Bearer {alice}"}
        for n in range(20):
            sent = httpx.post(
                url + "/api/v1/messages", json={"to": "bob", "subject": f"m{n}"}, headers=headers
            )
            assert sent.status_code == 201, sent.text
    # Both processes sealed while serving: one chain, intact.
    prepared.ok("audit", "seal")
    report = prepared.data("audit", "verify")
    assert report["ok"] is True
    assert len(prepared.data("inbox", "bob", "--limit", "100")) == 20
