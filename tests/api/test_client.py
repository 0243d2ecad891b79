"""coord.Client and coord.AsyncClient against a real server (uvicorn on a loopback
port, over the same database as the test's App), on SQLite and PostgreSQL: send and
receive between agents (receive woken by the event stream), timeouts, competing
receivers, tasks and runs, and errors mapped to coord's exception classes."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest
import uvicorn

import coord
from coord.api.app import create_app
from coord.client import Draft, EnqueueOptions, InboxQuery, RunFilter, TaskFilter
from coord.client.sse import Message, Parser
from coord.errors import (
    ConfigError,
    Conflict,
    Forbidden,
    IdempotencyConflict,
    InvalidInput,
    NotFound,
    RateLimited,
    ServerUnavailable,
    StoreUnavailable,
    Unauthenticated,
    UnknownTask,
)
from coord.settings import load_settings
from tests.api.harness import Api, running_api


@dataclass
class Live:
    """A server on a loopback port and the keys of the cast."""

    url: str
    api: Api

    def client(self, agent: str) -> coord.Client:
        """A sync client acting as ``agent``."""
        return coord.Client(self.url, self.api.keys[agent])

    def aclient(self, agent: str) -> coord.AsyncClient:
        """An async client acting as ``agent``."""
        return coord.AsyncClient(self.url, self.api.keys[agent])


@contextmanager
def serving(api: Api, database_url: str, port: int = 0) -> Iterator[str]:
    """uvicorn serving the API over ``api``'s store in a thread (on ``port``, or a free
    one); yields its URL."""
    settings = load_settings(database_url=database_url, api_rate=10_000.0, api_burst=10_000)
    app = create_app(settings, store=api.app.store)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
def live(database_url: str) -> Iterator[Live]:
    """The cast (tests/api/harness.py) and a real server over their database."""
    with running_api(database_url) as api, serving(api, database_url) as url:
        yield Live(url, api)


def test_whoami_agents_and_subscriptions(live: Live) -> None:
    with live.client("alice") as alice:
        me = alice.whoami()
        assert (me.agent, me.role) == ("alice", "agent")
        assert {"alice", "bob", "root"} <= {a.name for a in alice.agents.all()}
        assert alice.agents.get("bob").name == "bob"
        assert alice.agents.subscribe("news").changed is True
        assert alice.agents.subscribe("news").changed is False
        assert "news" in alice.agents.get("alice").topics
        assert alice.agents.unsubscribe("news").changed is True


def test_send_inbox_read_ack_and_thread(live: Live) -> None:
    with live.client("alice") as alice, live.client("bob") as bob:
        sent = alice.mail.send("bob", "hello", {"n": 1}, priority="high", key="k1")
        assert (sent.created, [r.agent for r in sent.recipients]) == (True, ["bob"])
        assert alice.mail.send("bob", "hello", {"n": 1}, priority="high", key="k1").created is False
        reply = bob.mail.send("alice", "re: hello", "fine", reply_to=sent.id)
        assert reply.thread_id == sent.thread_id
        many = alice.mail.send_many([Draft("bob", f"n{i}", i) for i in range(3)])
        assert len(many) == 3

        inbox = bob.mail.inbox()
        assert [m.subject for m in inbox] == ["hello", "n0", "n1", "n2"]
        assert [m.subject for m in bob.mail.inbox(None, InboxQuery(limit=2))] == ["hello", "n0"]
        assert [
            m.subject
            for m in bob.mail.inbox(None, InboxQuery(sender="alice", thread_id=sent.thread_id))
        ] == ["hello"]
        read = bob.mail.read(sent.id)
        assert (read.state.value, read.body) == ("read", {"n": 1})
        assert [m.subject for m in bob.mail.inbox(None, InboxQuery(unread=True))] == [
            "n0",
            "n1",
            "n2",
        ]
        assert sorted(bob.mail.ack([sent.id, many[0].id])) == sorted([sent.id, many[0].id])
        assert bob.mail.ack(sent.id) == []
        assert [m.subject for m in alice.mail.thread(sent.thread_id)] == ["hello", "re: hello"]
        assert alice.mail.message(sent.id).deliveries[0].state.value == "acked"
        topics = [e.topic for e in alice.mail.message_events(sent.id)]
        assert topics[:2] == ["message.sent", "message.delivered"]


def test_the_inbox_follows_cursors_over_many_pages(live: Live) -> None:
    with live.client("alice") as alice, live.client("bob") as bob:
        for first in (0, 700):  # a batch holds at most 1000
            alice.mail.send_many(
                [Draft("bob", f"m{i}") for i in range(first, min(first + 700, 1203))]
            )
        subjects = [m.subject for m in bob.mail.inbox(None, InboxQuery(limit=None))]
        assert subjects == [f"m{i}" for i in range(1203)]


def test_receive_waits_for_a_message_and_is_woken_by_the_stream(live: Live) -> None:
    with live.client("alice") as alice, live.client("bob") as bob:
        threading.Timer(0.3, lambda: alice.mail.send("bob", "later", {"x": 1})).start()
        started = time.monotonic()
        got = bob.mail.receive(timeout=10)
        waited = time.monotonic() - started
        assert got is not None
        assert (got.subject, got.sender, got.state.value) == ("later", "alice", "read")
        assert 0.25 < waited < 3.0, waited  # woken at once, not at the 10 s recheck
        assert bob.mail.receive(timeout=0) is None  # read already: not given twice


def test_receive_times_out_with_none(live: Live) -> None:
    with live.client("bob") as bob:
        started = time.monotonic()
        assert bob.mail.receive(timeout=0.5) is None
        assert 0.45 < time.monotonic() - started < 3.0


def test_receive_filters_by_topic_and_ignores_its_own_sends(live: Live) -> None:
    with live.client("alice") as alice, live.client("bob") as bob:
        bob.agents.subscribe("news")
        alice.mail.send("bob", "direct")
        threading.Timer(0.3, lambda: bob.mail.send("alice", "mine, not for me")).start()
        threading.Timer(0.6, lambda: alice.mail.send("topic:news", "headline")).start()
        got = bob.mail.receive(timeout=10, topic="news")
        assert got is not None and got.subject == "headline"
        rest = bob.mail.receive(timeout=1)
        assert rest is not None and rest.subject == "direct"


def test_two_receivers_never_get_the_same_message(live: Live) -> None:
    count = 30
    got: list[str] = []
    lock = threading.Lock()

    def receiver() -> None:
        with live.client("bob") as bob:
            while (m := bob.mail.receive(timeout=3)) is not None:
                with lock:
                    got.append(m.id)

    with ThreadPoolExecutor(2) as pool, live.client("alice") as alice:
        futures = [pool.submit(receiver) for _ in range(2)]
        time.sleep(0.3)
        sent = [alice.mail.send("bob", f"job {i}").id for i in range(count)]
        for future in futures:
            future.result(timeout=60)
    assert sorted(got) == sorted(sent)
    assert len(set(got)) == count


def test_enqueue_tasks_and_start_a_run(live: Live) -> None:
    with live.client("alice") as alice:
        task = alice.tasks.enqueue(
            "work", {"n": 2}, key="t1", options=EnqueueOptions(priority="high")
        )
        assert task.created and alice.tasks.enqueue("work", {"n": 2}, key="t1").created is False
        batch = alice.tasks.enqueue_many(
            "work", [{"n": 3}, {"n": 4}], options=EnqueueOptions(delay="1h", queue="slow")
        )
        assert len({t.id for t in batch}) == 2
        info = alice.tasks.get(task.id)
        assert (info.name, info.payload, info.priority) == ("work", {"n": 2}, "high")
        assert [e.topic for e in alice.tasks.events(task.id)] == ["task.enqueued"]
        assert {t.id for t in alice.tasks.find(TaskFilter(queue="slow"))} == {t.id for t in batch}
        assert alice.tasks.cancel(batch[0].id).state.value == "cancelled"
        assert {q.queue for q in alice.queues.stats()} >= {"default", "slow"}
        assert alice.dead_letters.groups() == []

        assert [w.name for w in alice.runs.workflows()] == ["flow"]
        plan = alice.runs.plan("flow", {"topic": "x"})
        assert plan.groups == [["build"], ["release"]]
        run = alice.runs.start("flow", {"topic": "x"}, key="r1")
        assert run.created
        again = alice.runs.start("flow", {"topic": "x"}, key="r1")
        assert (again.id, again.created) == (run.id, False)
        found = run.info()
        assert (found.workflow, found.input) == ("flow", {"topic": "x"})
        assert [r.id for r in alice.runs.find(RunFilter(workflow="flow"))] == [run.id]
        assert alice.runs.events(run.id)[0].topic.startswith("run.")
        assert run.cost().run_id == run.id
        assert run.pause().state.value == "paused"
        assert alice.runs.handle(run.id).resume().state.value == "running"
        with live.client("olga") as olga:
            assert olga.runs.set_budget(run.id, tokens=1000).budget["tokens"] == 1000
            assert run.cancel().state.value in ("cancelled", "compensating")
            with pytest.raises(Conflict):
                olga.runs.set_budget(run.id, tokens=2000)


def test_errors_map_to_coords_exception_classes(live: Live) -> None:
    with live.client("alice") as alice:
        with pytest.raises(Forbidden):
            alice.mail.inbox("bob")
        with pytest.raises(Forbidden) as spoof:
            alice.mail.send("bob", "as olga", sender="olga")
        assert spoof.value.data["field"] == "sender"
        with pytest.raises(InvalidInput) as bad:
            alice.mail.send("bob", "")
        assert bad.value.data["field"] == "subject"
        with pytest.raises(InvalidInput) as priority:
            alice.mail.send("bob", "x", priority="urgent")
        assert priority.value.data["field"] == "priority"
        with pytest.raises(NotFound):
            alice.agents.get("nobody")
        with pytest.raises(UnknownTask):
            alice.tasks.enqueue("never-registered")
        alice.mail.send("bob", "once", key="same")
        with pytest.raises(IdempotencyConflict):
            alice.mail.send("bob", "another", key="same")
    with live.client("vic") as viewer, pytest.raises(Forbidden):
        viewer.mail.send("bob", "viewers read only")
    with coord.Client(live.url, "coord_bad_key") as stranger, pytest.raises(Unauthenticated):
        stranger.whoami()
    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    closed = f"http://127.0.0.1:{port.getsockname()[1]}"
    port.close()
    with coord.Client(closed, "k", timeout=2) as nowhere, pytest.raises(ServerUnavailable):
        nowhere.whoami()


def test_the_event_stream_resumes_from_its_cursor(live: Live) -> None:
    with live.client("olga") as olga, live.client("alice") as alice:
        stream = olga.events(agent="bob", topic="message.delivered")
        threading.Timer(0.3, lambda: alice.mail.send("bob", "one")).start()
        first = next(stream)
        cursor = stream.cursor
        stream.close()
        assert first.topic == "message.delivered" and cursor is not None
        alice.mail.send("bob", "two")  # while nobody listens
        with olga.events(agent="bob", topic="message.delivered", after=cursor) as resumed:
            second = next(resumed)
        assert second.message_id != first.message_id
        assert olga.mail.message(second.message_id or "").subject == "two"
        page = olga.event_page(agent="bob", topic="message.delivered")
        assert [e.message_id for e in page.data] == [first.message_id, second.message_id]


def test_the_event_stream_starts_from_the_first_event_with_after_0(live: Live) -> None:
    # Without a cursor the stream starts from now; 0 means "from the first event",
    # on both backends (issue 13 item 12).
    with live.client("root") as root:
        deadline = time.monotonic() + 30  # PostgreSQL shows an event once older
        while not (page := root.event_page(limit=1)).data:  # transactions have ended
            assert time.monotonic() < deadline, "the feed showed no event"
            time.sleep(0.05)
        with root.events(after="0") as stream:
            assert next(stream).id == page.data[0].id


def test_the_async_client_does_the_same(live: Live) -> None:
    async def scenario() -> None:
        async with live.aclient("alice") as alice, live.aclient("bob") as bob:
            assert (await bob.whoami()).agent == "bob"

            async def later() -> None:
                await asyncio.sleep(0.3)
                await alice.mail.send("bob", "async hello", {"n": 1})

            sender = asyncio.create_task(later())
            got = await bob.mail.receive(timeout=10)
            await sender
            assert got is not None and got.subject == "async hello"
            assert await bob.mail.receive(timeout=0.3) is None
            assert [m.subject for m in await bob.mail.inbox()] == ["async hello"]
            assert await bob.mail.ack(got.id) == [got.id]
            task = await alice.tasks.enqueue("work", {"n": 1})
            assert (await alice.tasks.get(task.id)).state.value == "pending"
            run = await alice.runs.start("flow", {"topic": "y"})
            assert (await run.info()).workflow == "flow"
            assert (await alice.runs.get(run.id)).workflow == "flow"
            with pytest.raises(Forbidden):
                await alice.mail.inbox("bob")
            with pytest.raises(InvalidInput) as bad:
                await alice.mail.send("bob", "x", ttl="soon")
            assert bad.value.data["field"] == "ttl"
            async with alice.events(agent="alice", topic="message") as stream:
                first = asyncio.ensure_future(stream.__anext__())  # connects the stream
                await asyncio.sleep(0.3)
                await alice.mail.send("bob", "streamed")
                event = await asyncio.wait_for(first, 10)
            assert event.topic == "message.sent"

    asyncio.run(scenario())


def test_the_event_stream_reconnects_after_the_server_restarts(database_url: str) -> None:
    with running_api(database_url) as api:
        with serving(api, database_url) as url:
            olga = coord.Client(url, api.keys["olga"])
            # Connected first: the server has fixed where the stream starts.
            stream = olga.events(agent="bob", topic="message.delivered").connect()
            api.app.send("alice", "bob", "before")
            first = next(stream)
        api.app.send("alice", "bob", "while the server is down")
        port = int(url.rpartition(":")[2])
        with serving(api, database_url, port=port):
            second = next(stream)  # the old connection is gone: it reconnects, resuming
            stream.close()
            olga.close()
    assert [api.app.message(e.message_id or "").subject for e in (first, second)] == [
        "before",
        "while the server is down",
    ]


# -- without a server: the parts -----------------------------------------------------
def _problem(status: int, code: str, **extra: object) -> httpx.Response:
    body = {"type": "t", "title": "x", "status": status, "detail": f"{code}!", "code": code}
    return httpx.Response(
        status, json={**body, **extra}, headers={"content-type": "application/problem+json"}
    )


def test_429_is_retried_for_safe_calls_only_and_waits_as_told() -> None:
    answers: list[httpx.Response] = []
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        answer = answers.pop(0)
        answer.headers.setdefault("retry-after", "0")
        return answer

    me = {
        "agent": "a",
        "key_id": "k",
        "role": "r",
        "permissions": [],
        "domains": [],
        "human": False,
    }
    client = coord.Client("http://coord.test", "key", transport=httpx.MockTransport(handler))
    answers[:] = [_problem(429, "rate_limited"), httpx.Response(200, json=me)]
    assert client.whoami().agent == "a"
    assert seen == ["GET /api/v1/me", "GET /api/v1/me"]

    seen.clear()
    answers[:] = [_problem(429, "rate_limited", retry_after=3.0)]
    with pytest.raises(RateLimited) as limited:
        client.mail.send("b", "no key: not repeated")
    assert seen == ["POST /api/v1/messages"] and limited.value.retry_after == 0.0

    seen.clear()
    answers[:] = [
        _problem(503, "store_unavailable"),
        _problem(503, "store_unavailable"),
        _problem(503, "store_unavailable"),
    ]
    with pytest.raises(StoreUnavailable):
        client.tasks.get("t")  # retries=2: three tries, then the error
    assert len(seen) == 3


def test_answers_that_are_not_problems_still_raise_coord_errors() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/me"):
            return httpx.Response(502, text="<html>bad gateway</html>")
        return _problem(418, "teapot", field="tea")

    client = coord.Client(
        "http://coord.test/api/v1/", "key", transport=httpx.MockTransport(handler)
    )
    with pytest.raises(ServerUnavailable):
        client.whoami()
    with pytest.raises(coord.CoordError) as other:
        client.agents.get("x")
    assert type(other.value) is coord.CoordError
    assert other.value.to_dict()["code"] == "teapot" and other.value.data["field"] == "tea"
    with pytest.raises(ConfigError):
        coord.Client("coord.test", "key")


def test_the_sse_parser_joins_data_lines_and_skips_comments() -> None:
    parser = Parser()
    lines = [": ping", "", "id: 7", "event: task.succeeded", 'data: {"a":', "data: 1}", ""]
    out = [m for m in (parser.feed(line) for line in lines) if m is not None]
    assert out == [Message(), Message("7", "task.succeeded", '{"a":\n1}')]
